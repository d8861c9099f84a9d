"""A plain compiled long-only simulator, independent of vectorbt, for cross-checks.

Guarantees: the same contract as the vectorised engine in its simplest mode
(long only, fraction-of-equity sizing, taker fee and slippage, no stops):
a signal on bar t fills at bar t+1's open; an entry and an exit on the same
bar cancel; an entry while long or an exit while flat does nothing; buys fill
at open * (1 + slippage) spending fraction * cash including the fee, sells fill
at open * (1 - slippage) for the whole position; with `close_at_end` a
position still open is sold at the last bar's open. Equity is marked at closes.
Written as one explicit loop so that it can be read line by line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


@dataclass(frozen=True, eq=False)
class ReferenceRun:
    equity: np.ndarray
    entry_index: np.ndarray
    exit_index: np.ndarray  # -1 while still open
    size: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    pnl: np.ndarray


@numba.njit(cache=True)
def _simulate(
    open_: np.ndarray, close: np.ndarray, entries: np.ndarray, exits: np.ndarray,
    fee: float, slippage: float, fraction: float, cash: float, close_at_end: bool,
) -> tuple[np.ndarray, np.ndarray]:
    n = close.shape[0]
    equity = np.empty(n)
    trades = np.full((n, 6), np.nan)  # entry idx, exit idx, size, entry px, exit px, pnl
    n_trades = 0
    position = 0.0
    cost = 0.0
    for t in range(n):
        enter = t > 0 and entries[t - 1] and not exits[t - 1]
        leave = t > 0 and exits[t - 1] and not entries[t - 1]
        last = close_at_end and t == n - 1
        if last:
            enter, leave = False, position > 0
        if enter and position == 0.0:
            price = open_[t] * (1.0 + slippage)
            budget = cash * fraction
            spend = budget / (1.0 + fee)
            position = spend / price
            cost = budget
            cash -= budget
            trades[n_trades, 0], trades[n_trades, 2], trades[n_trades, 3] = t, position, price
        elif leave and position > 0.0:
            price = open_[t] * (1.0 - slippage)
            value = position * price
            proceeds = value - value * fee
            cash += proceeds
            trades[n_trades, 1], trades[n_trades, 4] = t, price
            trades[n_trades, 5] = proceeds - cost
            n_trades += 1
            position = 0.0
        equity[t] = cash + position * close[t]
    if position > 0.0:
        n_trades += 1
    return equity, trades[:n_trades]


def simulate_long_only(
    open_: np.ndarray,
    close: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    *,
    fee: float,
    slippage: float,
    fraction: float = 1.0,
    initial_cash: float = 10_000.0,
    close_at_end: bool = True,
) -> ReferenceRun:
    """Simulate signal-bar-aligned `entries`/`exits` (fills on the next bar's open)."""
    equity, trades = _simulate(
        np.ascontiguousarray(open_, dtype=np.float64), np.ascontiguousarray(close, np.float64),
        np.ascontiguousarray(entries, dtype=np.bool_), np.ascontiguousarray(exits, np.bool_),
        float(fee), float(slippage), float(fraction), float(initial_cash), bool(close_at_end),
    )
    exit_index = np.where(np.isnan(trades[:, 1]), -1, trades[:, 1]).astype(np.int64)
    return ReferenceRun(
        equity=equity,
        entry_index=trades[:, 0].astype(np.int64),
        exit_index=exit_index,
        size=trades[:, 2],
        entry_price=trades[:, 3],
        exit_price=trades[:, 4],
        pnl=trades[:, 5],
    )
