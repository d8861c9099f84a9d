"""Many genomes' signals on one instrument, simulated together by the backtest engine.

Guarantees:
- the fills, costs and stops are the backtest engine's (`build_execution_plan`
  + `simulate` + `replay`, the parts `run_batch` is built from): signals fill
  at the next bar's open, fees and slippage always charged;
- a column's result depends only on its own signals: columns are grouped by
  the shape of their signals (which fields are given), each group runs through
  the same code path, and columns of one simulation share nothing, so the
  result of a genome does not depend on which other genomes it was batched with;
- a column whose signals the engine rejects (e.g. a size outside (0, 1]) fails
  alone: its error is returned in its place, the other columns still run;
- `simulate_batch` gives every column bit for bit what `simulate_columns`
  gives it, as one (columns, bars) returns matrix for `column_scores`, through
  `account_simulation` (the same simulation, specialised and compiled); a
  column that path refuses, or a batch it fails on, is redone by
  `simulate_columns`, so errors are the engine's own too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from backtests.engine.batch_signals import BatchSignals
from backtests.engine.config import BacktestConfig
from backtests.engine.execution import (
    SIZE_TYPE_OF_MODE,
    ExecutionPlan,
    build_execution_plan,
)
from backtests.engine.ledger import N_SUMMARY, SUMMARY_FIELDS, replay
from backtests.engine.simulator import PriceMatrix, simulate
from backtests.engine.statistics import returns_from_equity
from evolution.engine import account_simulation
from trading.engine.market import Bars
from trading.engine.strategy import Signals

CHUNK_ELEMENTS = 1 << 24  # bars x columns replayed per simulation call
TRADES_FIELD = SUMMARY_FIELDS.index("trades")
OPTIONAL_FIELDS = ("short_entries", "short_exits", "size", "sl_stop", "tp_stop", "tsl_stop")


@dataclass(frozen=True, eq=False)
class ColumnOutcome:
    """One genome on one instrument: per-bar net returns over the scored window."""

    returns: np.ndarray
    trades: int
    turnover: float  # traded value / equity per year


@dataclass(frozen=True, eq=False)
class BatchOutcome:
    """Many columns on one instrument: row j of `returns` is column j's per-bar net returns
    over the scored window (zeros where the column failed: see `errors`)."""

    returns: np.ndarray  # (columns, bars) C-ordered float64
    trades: np.ndarray  # (columns,) int64
    turnover: np.ndarray  # (columns,) float64
    errors: dict[int, Exception]


def shape_of(signals: Signals) -> tuple[str, ...]:
    """Which optional fields the signals give, and whether as arrays or scalars."""
    kinds = []
    for name in OPTIONAL_FIELDS:
        value = getattr(signals, name)
        kinds.append("none" if value is None else "scalar" if np.ndim(value) == 0 else "array")
    return tuple(kinds)


def _batches(columns: Sequence[Signals], window: tuple[int, int]) -> list[list[int]]:
    """Column indices simulated together: same signal shape, at most a chunk at a time."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, signals in enumerate(columns):
        groups.setdefault(shape_of(signals), []).append(index)
    start, stop = window
    chunk = max(1, CHUNK_ELEMENTS // (2 * (stop - start)))
    return [members[first : first + chunk]
            for members in groups.values() for first in range(0, len(members), chunk)]


def simulate_columns(
    bars: Bars,
    window: tuple[int, int],
    columns: Sequence[Signals],
    config: BacktestConfig,
) -> list[ColumnOutcome | Exception]:
    """Each column's outcome over bars [start, stop) (signals computed on bars [0, stop))."""
    results: list[ColumnOutcome | Exception | None] = [None] * len(columns)
    for part in _batches(columns, window):
        outcomes = _simulate_or_isolate(bars, window, [columns[i] for i in part], config)
        for index, outcome in zip(part, outcomes, strict=True):
            results[index] = outcome
    return [r for r in results if r is not None]


def simulate_batch(
    bars: Bars,
    window: tuple[int, int],
    columns: Sequence[Signals],
    config: BacktestConfig,
) -> BatchOutcome:
    """`simulate_columns` of every column, as one returns matrix (see the module docstring)."""
    start, stop = window
    # every row is written below (by the compiled pass or the engine), failed ones zeroed at
    # the end: no 7 MB memset of a population's returns first
    outcome = BatchOutcome(np.empty((len(columns), stop - start)),
                           np.zeros(len(columns), np.int64), np.zeros(len(columns)), {})
    for part in _batches(columns, window):
        try:
            redo = _simulate_accounts(bars, window, [columns[i] for i in part], config, part,
                                      outcome)
        except Exception:  # noqa: BLE001 - redone by the engine, errors kept per column
            redo = part
        for index in redo:
            [result] = _simulate_or_isolate(bars, window, [columns[index]], config)
            if isinstance(result, Exception):
                outcome.errors[index] = result
            else:
                outcome.returns[index] = result.returns
                outcome.trades[index] = result.trades
                outcome.turnover[index] = result.turnover
    for index in outcome.errors:
        outcome.returns[index] = 0.0
    return outcome


FLAG_FIELDS = ("entries", "exits", "short_entries", "short_exits")
VALUE_FIELDS = ("size", "sl_stop", "tsl_stop", "tp_stop")
_NONE = np.full(1, np.nan)  # the value row of a field not given
_NONE.flags.writeable = False


class _Rows:
    """Where each column's signals lie, for `account_simulation.simulate_accounts` (which
    reads them there instead of from a stacked copy): per column, the addresses of its
    flag rows (`stop` bools each; all False where not given) and of its value rows (one
    constant, or `stop` float64 values; NaN where not given), with their widths. It holds
    every array it gives the address of (converted ones too) until it is dropped; the
    arrays of a block are shared by the columns holding it, so each is looked up once."""

    def __init__(self, columns: Sequence[Signals], stop: int, shorts: bool):
        self.kept: dict[int, tuple[object, np.ndarray, int]] = {}
        never = np.zeros(stop, dtype=np.bool_)
        self.flags = np.empty((len(columns), len(FLAG_FIELDS)), np.int64)
        self.values = np.empty((len(columns), len(VALUE_FIELDS)), np.int64)
        self.widths = np.empty((len(columns), len(VALUE_FIELDS)), np.int64)
        for j, signals in enumerate(columns):
            for k, name in enumerate(FLAG_FIELDS):
                value = getattr(signals, name) if k < 2 or shorts else None
                self.flags[j, k] = self._address(never if value is None else value, np.bool_,
                                                 stop)
            for k, name in enumerate(VALUE_FIELDS):
                value = getattr(signals, name)
                self.values[j, k], self.widths[j, k] = self._value(value, stop)

    def _value(self, value: object, stop: int) -> tuple[int, int]:
        if value is None:
            return self._address(_NONE, np.float64, 1), 1
        if np.ndim(value) == 0:  # type: ignore[arg-type]
            return self._address(np.full(1, float(value)), np.float64, 1), 1  # type: ignore[arg-type]
        return self._address(value, np.float64, stop), stop

    def _address(self, value: object, dtype: type, length: int) -> int:
        known = self.kept.get(id(value))
        if known is not None and known[0] is value:
            return known[2]
        array: np.ndarray = np.ascontiguousarray(value, dtype=dtype)
        if array.shape != (length,):
            raise ValueError(f"a signal of shape {array.shape} where ({length},) is needed")
        address = array.ctypes.data
        self.kept[id(value)] = (value, array, address)
        return address


def _simulate_accounts(
    bars: Bars, window: tuple[int, int], columns: list[Signals], config: BacktestConfig,
    part: list[int], outcome: BatchOutcome,
) -> list[int]:
    """Simulate the columns with `account_simulation`; the indices it leaves to the engine."""
    start, stop = window
    if any(len(s.entries) != stop for s in columns):
        raise ValueError("signals must cover the bars up to the end of the window")
    shorts = config.allow_short and (columns[0].short_entries is not None
                                     or columns[0].short_exits is not None)
    rows = _Rows(columns, stop, shorts)
    opens, highs, lows, closes = (np.ascontiguousarray(p[:stop], dtype=np.float64)
                                  for p in (bars.open, bars.high, bars.low, bars.close))
    settings = np.array([np.nan if v is None else float(v) for v in (
        config.tsl_stop if config.tsl_stop is not None else config.sl_stop, config.tp_stop,
        config.sizing.value, config.sizing.granularity, config.costs.market_fee,
        config.costs.slippage, config.initial_cash)])
    status = np.empty(len(outcome.trades), np.int64)
    account_simulation.simulate_accounts(
        start, stop, rows.flags, rows.values, rows.widths, settings, 2 if shorts else 1,
        config.close_at_end, config.tsl_stop is not None,
        SIZE_TYPE_OF_MODE[config.sizing.mode],
        (stop - start) / config.periods_per_year(bars.timeframe), opens, highs, lows, closes,
        np.asarray(part, dtype=np.int64), outcome.returns, outcome.trades, outcome.turnover,
        status,
    )
    del rows  # the signals may be released now
    for index in part:
        if status[index] == account_simulation.NOT_FINITE:
            outcome.errors[index] = ArithmeticError("the simulated equity is not finite")
    return [index for index in part if status[index] == account_simulation.REFUSED]


def _simulate_or_isolate(
    bars: Bars, window: tuple[int, int], columns: list[Signals], config: BacktestConfig
) -> list[ColumnOutcome | Exception]:
    try:
        return list(_simulate(bars, window, columns, config))
    except Exception as exc:  # noqa: BLE001 - one bad column must not sink the others
        if len(columns) == 1:
            return [exc]
        return [o for c in columns for o in _simulate_or_isolate(bars, window, [c], config)]


def _simulate(
    bars: Bars, window: tuple[int, int], columns: list[Signals], config: BacktestConfig
) -> list[ColumnOutcome]:
    start, stop = window
    plan = build_execution_plan(BatchSignals.from_signals(columns), config, start=start, stop=stop)
    prices = PriceMatrix.single(
        bars.open[start:stop], bars.high[start:stop], bars.low[start:stop], bars.close[start:stop]
    )
    init_cash = np.full(plan.n_groups, config.initial_cash)
    records = simulate(plan, prices, config.costs, init_cash)
    equity, summary = _replay(records, plan, prices.close, init_cash)
    turnover = _turnover(records, plan, equity, config, bars.timeframe)
    outcomes = []
    for g in range(plan.n_groups):
        returns = returns_from_equity(equity[:, g], config.initial_cash)
        if not np.all(np.isfinite(returns)):
            raise ArithmeticError("the simulated equity is not finite")
        outcomes.append(ColumnOutcome(returns, int(summary[g, TRADES_FIELD]), float(turnover[g])))
    return outcomes


def _replay(
    records: np.ndarray, plan: ExecutionPlan, close: np.ndarray, init_cash: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(equity (n, groups), summary (groups, N_SUMMARY)) of the order records."""
    n = plan.n_bars
    summary = np.empty((plan.n_groups, N_SUMMARY))
    equity = np.empty((n, plan.n_groups))
    position = np.empty((n, plan.n_columns))
    replay(
        np.ascontiguousarray(records["col"]), np.ascontiguousarray(records["idx"]),
        np.ascontiguousarray(records["size"]), np.ascontiguousarray(records["price"]),
        np.ascontiguousarray(records["fees"]), np.ascontiguousarray(records["side"]),
        plan.group_lens, init_cash, np.ascontiguousarray(close, dtype=np.float64),
        1.0, True, equity, position, summary,
    )
    return equity, summary


def _turnover(
    records: np.ndarray,
    plan: ExecutionPlan,
    equity: np.ndarray,
    config: BacktestConfig,
    timeframe: str,
) -> np.ndarray:
    """Per group: sum of each fill's value over the equity before it, per year."""
    group_of_column = np.repeat(np.arange(plan.n_groups), plan.group_lens)
    group = group_of_column[records["col"]]
    bar = records["idx"]
    previous = np.where(bar > 0, equity[np.maximum(bar - 1, 0), group], config.initial_cash)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(previous > 0, records["size"] * records["price"] / previous, 0.0)
    traded = np.bincount(group, weights=share, minlength=plan.n_groups)
    years = plan.n_bars / config.periods_per_year(timeframe)
    return np.asarray(traded / years, dtype=np.float64)
