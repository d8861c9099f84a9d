"""Run an `ExecutionPlan` through vectorbt's signal simulator.

Guarantees: fills happen at the given bar's open price; market orders pay the
taker fee and the slippage (buys fill at open * (1 + slippage), sells at
open * (1 - slippage)); stop-loss / trailing / take-profit levels are
fractions of the fill price, checked against each later bar's open, low and
high (a bar that opens through the stop exits at that open, otherwise at the
stop level), stop-loss before take-profit, and exit as market orders (fee and
slippage charged); a trailing stop follows the highest high (lowest low for
shorts) of the bars before the one being checked. The entry bar itself is not
checked for stops. Returns vectorbt order records (`order_dt`), group by group
in time order.

vectorbt treats a cash balance within 1e-9 (relative) of zero as zero, so an
entry that commits 100% of the equity forfeits those few micro-dollars of
change; any fraction below 1 keeps them (the backtesting.py cross-check uses 99%).

Without stops an order can only fill on a row with a signal, so idle rows are
not sent to vectorbt (the records' bar indices are mapped back); the result is
identical to simulating every row (tested), only faster.

vectorbt's simulator is not compiled with caching, so this module wraps it in
a cached compiled function (compiled once per machine, a few seconds) taking
every varying argument as a C-ordered 2-D array, so one specialisation serves
every call. Importing this module imports vectorbt (a few seconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
from vectorbt.portfolio.enums import order_dt
from vectorbt.portfolio.nb import simulate_from_signals_nb

from backtests.engine.costs import Costs
from backtests.engine.execution import ExecutionPlan

STOP_ENTRY_AT_FILL_PRICE = 2  # vectorbt StopEntryPrice.FillPrice
STOP_EXIT_AS_MARKET = 1  # vectorbt StopExitPrice.StopMarket
BUY, SELL = 0, 1  # vectorbt OrderSide


@dataclass(frozen=True, eq=False)
class PriceMatrix:
    """Open/high/low/close of the simulated bars, (n, 1) or (n, columns), C-ordered float64."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    @classmethod
    def of_columns(cls, columns: Sequence[tuple[np.ndarray, ...]]) -> PriceMatrix:
        """Stack per-column (open, high, low, close) 1-D arrays."""

        def stack(i: int) -> np.ndarray:
            return np.ascontiguousarray(np.stack([c[i] for c in columns], axis=1), np.float64)

        return cls(stack(0), stack(1), stack(2), stack(3))

    @classmethod
    def single(cls, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
               ) -> PriceMatrix:
        return cls.of_columns([(open, high, low, close)])

    def take_rows(self, rows: np.ndarray) -> PriceMatrix:
        return PriceMatrix(*(np.ascontiguousarray(a[rows]) for a in
                             (self.open, self.high, self.low, self.close)))


@numba.njit(cache=True)
def _simulate_nb(
    target_shape: tuple[int, int], group_lens: np.ndarray, init_cash: np.ndarray,
    call_seq: np.ndarray, entries: np.ndarray, exits: np.ndarray, direction: np.ndarray,
    size: np.ndarray, price: np.ndarray, size_type: np.ndarray, fees: np.ndarray,
    slippage: np.ndarray, size_granularity: np.ndarray, open: np.ndarray, high: np.ndarray,
    low: np.ndarray, close: np.ndarray, sl_stop: np.ndarray, sl_trail: np.ndarray,
    tp_stop: np.ndarray, stop_entry_price: np.ndarray, stop_exit_price: np.ndarray,
    use_stops: bool, max_orders: int,
) -> tuple[np.ndarray, np.ndarray]:
    # Arguments left out keep vectorbt's defaults as compile-time constants
    # (no long/short signal arrays, no accumulation, no fixed fees, no
    # rejections, no logs), which lets numba fold them away.
    return simulate_from_signals_nb(
        target_shape, group_lens, init_cash, call_seq, entries=entries, exits=exits,
        direction=direction, size=size, price=price, size_type=size_type, fees=fees,
        slippage=slippage, size_granularity=size_granularity, open=open, high=high, low=low,
        close=close, sl_stop=sl_stop, sl_trail=sl_trail, tp_stop=tp_stop,
        stop_entry_price=stop_entry_price, stop_exit_price=stop_exit_price,
        use_stops=use_stops, max_orders=max_orders,
    )


def _flex(value: float | bool | int, dtype: type) -> np.ndarray:
    return np.full((1, 1), value, dtype=dtype)


def simulate(
    plan: ExecutionPlan, prices: PriceMatrix, costs: Costs, init_cash: np.ndarray,
    *, skip_idle_rows: bool = True,
) -> np.ndarray:
    """Order records of `plan` traded on `prices` with `costs`; `init_cash` per group."""
    n, cols = plan.n_bars, plan.n_columns
    if prices.open.shape[0] != n or prices.open.shape[1] not in (1, cols):
        raise ValueError(f"prices {prices.open.shape} do not match the plan ({n}, {cols})")
    init_cash = np.ascontiguousarray(init_cash, dtype=np.float64)
    if skip_idle_rows and not plan.use_stops:
        rows = plan.active_rows()
        if len(rows) == 0:
            return np.empty(0, dtype=order_dt)
        if len(rows) < n:
            records = _run(plan.take_rows(rows), prices.take_rows(rows), costs, init_cash)
            records["idx"] = rows[records["idx"]]
            return records
    return _run(plan, prices, costs, init_cash)


def _run(plan: ExecutionPlan, prices: PriceMatrix, costs: Costs, init_cash: np.ndarray,
         ) -> np.ndarray:
    records, _ = _simulate_nb(
        (plan.n_bars, plan.n_columns), plan.group_lens, init_cash,
        plan.call_seq, plan.entries, plan.exits, plan.direction, plan.size, prices.open,
        plan.size_type, _flex(costs.market_fee, np.float64), _flex(costs.slippage, np.float64),
        plan.granularity, prices.open, prices.high, prices.low, prices.close, plan.sl_stop,
        plan.sl_trail, plan.tp_stop, _flex(STOP_ENTRY_AT_FILL_PRICE, np.int64),
        _flex(STOP_EXIT_AS_MARKET, np.int64), plan.use_stops, plan.max_orders(),
    )
    return records
