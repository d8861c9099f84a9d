"""Replay order records into equity curves and per-account summary figures.

Guarantees: one compiled pass over the bars per account (group of columns
sharing cash), O(columns) memory unless curves are requested. Equity at bar t
is cash plus positions valued at bar t's close, after bar t's fills. The
summary figures follow exactly the definitions in `statistics.py` (returns
r_t = E_t / E_{t-1} - 1 with E_{-1} the initial cash, Sharpe with ddof=1,
Sortino over all periods, drawdown with the initial cash as a peak), so a
batch column and a single backtest of the same parameters agree.
A trade is a run of one column's position from zero back to zero; its P&L is
the sum of its cash flows (fees included).
"""

from __future__ import annotations

import numba
import numpy as np

SUMMARY_FIELDS: tuple[str, ...] = (
    "final_equity",
    "total_return",
    "annualized_return",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_bars",
    "calmar",
    "exposure",
    "trades",
    "win_rate",
    "profit_factor",
    "expectancy",
    "total_fees",
)
N_SUMMARY = len(SUMMARY_FIELDS)


@numba.njit(cache=True)
def _finish_summary(out: np.ndarray, init: float, n: int, periods: float, sums: np.ndarray,
                    ) -> None:
    """Turn the running sums of one account into its summary row."""
    sum_r, sum_r2, down_sq, max_dd, longest, in_mkt = sums[:6]
    n_closed, wins, gross_win, gross_loss, pnl_sum, fee_sum, eq = sums[6:13]
    mean = sum_r / n
    out[0] = eq
    out[1] = eq / init - 1.0
    out[2] = (eq / init) ** (periods / n) - 1.0 if eq > 0 else -1.0
    var = max(sum_r2 - sum_r * mean, 0.0) / (n - 1) if n > 1 else np.nan
    std = np.sqrt(var)
    out[3] = std * np.sqrt(periods)
    out[4] = mean / std * np.sqrt(periods) if std > 0 else np.nan
    dd = np.sqrt(down_sq / n)
    out[5] = mean / dd * np.sqrt(periods) if dd > 0 else np.nan
    out[6] = max_dd
    out[7] = longest
    out[8] = out[2] / -max_dd if max_dd < 0 else np.nan
    out[9] = in_mkt / n
    out[10] = n_closed
    out[11] = wins / n_closed if n_closed > 0 else np.nan
    out[12] = gross_win / -gross_loss if gross_loss < 0 else np.nan
    out[13] = pnl_sum / n_closed if n_closed > 0 else np.nan
    out[14] = fee_sum


@numba.njit(cache=True, inline="always")
def _fill(size: float, price: float, fees: float, side: int) -> tuple[float, float]:
    """(cash change, position change) of one fill; side 0 buys, 1 sells."""
    value = size * price
    if side == 0:
        return -(value + fees), size
    return value - fees, -size


@numba.njit(cache=True, inline="always")
def _record_trade(pnl: float, trades: np.ndarray) -> None:
    """Add a closed trade to [count, wins, gross win, gross loss, P&L sum]."""
    trades[0] += 1
    trades[4] += pnl
    if pnl > 0:
        trades[1] += 1
        trades[2] += pnl
    elif pnl < 0:
        trades[3] += pnl


@numba.njit(cache=True, inline="always")
def _bar(
    eq: float, prev_eq: float, peak: float, run: int, longest: int, max_dd: float,
    sum_r: float, sum_r2: float, down_sq: float,
) -> tuple[float, int, int, float, float, float, float]:
    """The running figures after a bar that ends at equity `eq`."""
    r = eq / prev_eq - 1.0 if prev_eq != 0 else 0.0
    sum_r += r
    sum_r2 += r * r
    if r < 0:
        down_sq += r * r
    if eq >= peak:
        return eq, 0, longest, max_dd, sum_r, sum_r2, down_sq
    run += 1
    if eq < peak * (1.0 + max_dd):
        max_dd = min(max_dd, eq / peak - 1.0)
    return peak, run, max(longest, run), max_dd, sum_r, sum_r2, down_sq


@numba.njit(cache=True, inline="always")
def _next_order(p: int, from_col: int, to_col: int, order_col: np.ndarray,
                order_idx: np.ndarray, n: int) -> int:
    """The bar of record p if it belongs to columns [from_col, to_col), else n (none left)."""
    if p < order_col.shape[0] and from_col <= order_col[p] < to_col:
        return order_idx[p]
    return n


@numba.njit(cache=True, inline="always")
def _store(sums: np.ndarray, running: tuple, trades: np.ndarray, fee_sum: float,
           equity: float) -> None:
    for j in range(6):
        sums[j] = running[j]
    sums[6:11] = trades
    sums[11] = fee_sum
    sums[12] = equity


@numba.njit(cache=True)
def _replay_single(
    p: int, col: int, cash: float, order_col: np.ndarray, order_idx: np.ndarray,
    order_size: np.ndarray, order_price: np.ndarray, order_fees: np.ndarray,
    order_side: np.ndarray, close: np.ndarray, write_curves: bool, equity_out: np.ndarray,
    position_out: np.ndarray, g: int, sums: np.ndarray,
) -> int:
    """`_replay_group` for a one-column account, with scalar state (the common, hot case)."""
    n = close.shape[0]
    price_col = col if close.shape[1] > 1 else 0
    trades = np.zeros(5)
    pos = flow = fee_sum = sum_r = sum_r2 = down_sq = max_dd = 0.0
    prev_eq = peak = cash
    run = longest = in_mkt = 0
    n_orders = order_col.shape[0]
    next_order = order_idx[p] if p < n_orders and order_col[p] == col else n
    for i in range(n):
        traded = i == next_order
        while i == next_order:
            d_cash, d_pos = _fill(order_size[p], order_price[p], order_fees[p], order_side[p])
            cash += d_cash
            flow += d_cash
            pos += d_pos
            fee_sum += order_fees[p]
            if abs(pos) <= 1e-12 * order_size[p]:
                pos = 0.0
                _record_trade(flow, trades)
                flow = 0.0
            p += 1
            next_order = order_idx[p] if p < n_orders and order_col[p] == col else n
        if write_curves:
            position_out[i, col] = pos
        if pos == 0.0 and not traded:  # flat, no fill: nothing moves
            if write_curves:
                equity_out[i, g] = prev_eq
            if prev_eq < peak:
                run += 1
                longest = max(longest, run)
            continue
        eq = cash + pos * close[i, price_col]
        if write_curves:
            equity_out[i, g] = eq
        # `_bar` written out: this is the batch hot path, and the call costs ~20% here.
        r = eq / prev_eq - 1.0 if prev_eq != 0 else 0.0
        sum_r += r
        sum_r2 += r * r
        if r < 0:
            down_sq += r * r
        if eq >= peak:
            peak = eq
            run = 0
        else:
            run += 1
            longest = max(longest, run)
            if eq < peak * (1.0 + max_dd):
                max_dd = min(max_dd, eq / peak - 1.0)
        in_mkt += pos != 0.0
        prev_eq = eq
    _store(sums, (sum_r, sum_r2, down_sq, max_dd, float(longest), float(in_mkt)), trades,
           fee_sum, prev_eq)
    return p


@numba.njit(cache=True)
def _replay_group(
    p: int, from_col: int, glen: int, cash: float, order_col: np.ndarray,
    order_idx: np.ndarray, order_size: np.ndarray, order_price: np.ndarray,
    order_fees: np.ndarray, order_side: np.ndarray, close: np.ndarray, write_curves: bool,
    equity_out: np.ndarray, position_out: np.ndarray, g: int, sums: np.ndarray,
) -> int:
    """Replay one account of `glen` columns; leave its running sums and final equity in
    `sums`; return the index of the first record of the next account."""
    n = close.shape[0]
    to_col = from_col + glen
    pos, flow, trades = np.zeros(glen), np.zeros(glen), np.zeros(5)
    price_col = np.arange(from_col, to_col) if close.shape[1] > 1 else np.zeros(glen, np.int64)
    fee_sum = sum_r = sum_r2 = down_sq = max_dd = 0.0
    prev_eq = peak = cash
    run = longest = in_mkt = 0
    next_order = _next_order(p, from_col, to_col, order_col, order_idx, n)
    for i in range(n):
        while i == next_order:
            k = order_col[p] - from_col
            d_cash, d_pos = _fill(order_size[p], order_price[p], order_fees[p], order_side[p])
            cash += d_cash
            flow[k] += d_cash
            pos[k] += d_pos
            fee_sum += order_fees[p]
            if abs(pos[k]) <= 1e-12 * order_size[p]:
                pos[k] = 0.0
                _record_trade(flow[k], trades)
                flow[k] = 0.0
            p += 1
            next_order = _next_order(p, from_col, to_col, order_col, order_idx, n)
        eq = cash
        for k in range(glen):
            eq += pos[k] * close[i, price_col[k]] if pos[k] != 0.0 else 0.0
            if write_curves:
                position_out[i, from_col + k] = pos[k]
        if write_curves:
            equity_out[i, g] = eq
        peak, run, longest, max_dd, sum_r, sum_r2, down_sq = _bar(
            eq, prev_eq, peak, run, longest, max_dd, sum_r, sum_r2, down_sq)
        in_mkt += 1 if np.any(pos != 0.0) else 0
        prev_eq = eq
    _store(sums, (sum_r, sum_r2, down_sq, max_dd, float(longest), float(in_mkt)), trades,
           fee_sum, prev_eq)
    return p


@numba.njit(cache=True)
def replay(
    order_col: np.ndarray,
    order_idx: np.ndarray,
    order_size: np.ndarray,
    order_price: np.ndarray,
    order_fees: np.ndarray,
    order_side: np.ndarray,
    group_lens: np.ndarray,
    init_cash: np.ndarray,
    close: np.ndarray,
    periods: float,
    write_curves: bool,
    equity_out: np.ndarray,
    position_out: np.ndarray,
    summary_out: np.ndarray,
) -> None:
    """Replay the orders of every group; fill `summary_out` (groups, N_SUMMARY) and the curves.

    Records must be grouped by account and in time order within one (as the
    simulator emits them). `close` is (n, 1) or (n, columns); `equity_out`
    (n, groups) and `position_out` (n, columns) are written only when `write_curves`.
    """
    sums = np.zeros(13)
    p = 0
    from_col = 0
    for g in range(group_lens.shape[0]):
        if group_lens[g] == 1:
            p = _replay_single(
                p, from_col, init_cash[g], order_col, order_idx, order_size, order_price,
                order_fees, order_side, close, write_curves, equity_out, position_out, g, sums,
            )
        else:
            p = _replay_group(
                p, from_col, group_lens[g], init_cash[g], order_col, order_idx, order_size,
                order_price, order_fees, order_side, close, write_curves, equity_out,
                position_out, g, sums,
            )
        _finish_summary(summary_out[g], init_cash[g], close.shape[0], periods, sums)
        from_col += group_lens[g]
