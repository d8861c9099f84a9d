"""An event-driven run in the shape of a vectorised one: curves, trades table, statistics.

Guarantees:
- `account_result` turns one kernel account (an `EventBacktestResult` over
  `bars`) into a `backtests.engine.results.BacktestResult` whose curves are on
  the bar grid of [start, end): the equity at each bar's close (the last mark
  at or before it, so a candle the feed guard refused repeats the previous
  mark), the net units held per instrument at each close, and the same
  buy-and-hold benchmark; its statistics come from the same
  `backtests.engine.statistics.backtest_report` the vectorised runs use.
- Trades are the kernel's round trips: bar indices are positions in `bars`
  (the bar whose open time is the last at or before the fill), times are the
  fill times (a bar's open time for fills at the open), size, average entry
  and exit prices, P&L net of fees, and each fill's fee, split into the
  entry's (buys) and the exit's (sells) by walking the fills. Slippage is the
  cash the configured slippage rate took on each taker fill. A position still
  open at the end (none with `close_at_end`) is marked at the last close.
- `exit_reasons` keeps the kernel's own words ("signal", "end", "stop_loss",
  "take_profit", "trailing_stop", ...); the table's coarse reason is
  "signal", "end" or "stop" (any exit the kernel triggered itself).
- `combined` sums sub-accounts into one portfolio exactly as
  `backtests.engine.backtest.run_multi` does (equity and benchmark summed,
  trades ordered by entry bar then instrument).
Nothing here changes what the kernel did; a mismatch between its trades and
its fills raises ValueError rather than guessing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from backtests.engine.config import BacktestConfig
from backtests.engine.results import BacktestResult, MultiBacktestResult
from backtests.engine.statistics import backtest_report, buy_and_hold_equity
from backtests.engine.trades import EXIT_REASONS, TradesTable
from trading.engine.events import FillEvent
from trading.engine.kernel import EventBacktestResult, TradeClosedEvent
from trading.engine.market import Bars, timeframe_ms

TABLE_FIELDS = tuple(f.name for f in dataclasses.fields(TradesTable) if f.name != "symbols")
COARSE_REASONS = {"signal": EXIT_REASONS.index("signal"), "end": EXIT_REASONS.index("end")}
STOP, OPEN = EXIT_REASONS.index("stop"), EXIT_REASONS.index("open")


@dataclass
class RoundTrip:
    """The fills of one position, from flat back to flat."""

    group: int
    first_ms: int
    entry_fees: Decimal = Decimal(0)
    exit_fees: Decimal = Decimal(0)
    slippage: float = 0.0
    held: Decimal = Decimal(0)
    bought: Decimal = Decimal(0)
    bought_value: Decimal = Decimal(0)
    last_ms: int = 0

    def add(self, fill: FillEvent, slippage_rate: float) -> None:
        buying = fill.side == "BUY"
        self.held += fill.quantity if buying else -fill.quantity
        self.last_ms = fill.ts_ms
        if buying:
            self.entry_fees += fill.fee
            self.bought += fill.quantity
            self.bought_value += fill.quantity * fill.price
        else:
            self.exit_fees += fill.fee
        if fill.liquidity == "TAKER":
            rate = slippage_rate / (1.0 + slippage_rate if buying else 1.0 - slippage_rate)
            self.slippage += float(fill.quantity * fill.price) * rate


@dataclass
class TradeRows:
    """Columns of the trades table being built, plus the kernel's exit reasons."""

    columns: dict[str, list[Any]] = field(default_factory=lambda: {n: [] for n in TABLE_FIELDS})
    reasons: list[str] = field(default_factory=list)

    def add(self, reason: str, **values: Any) -> None:
        for name in TABLE_FIELDS:
            self.columns[name].append(values[name])
        self.reasons.append(reason)

    def table(self, symbols: tuple[str, ...]) -> TradesTable:
        dtypes = {"direction": np.int64, "group": np.int64, "entry_index": np.int64,
                  "exit_index": np.int64, "entry_time": np.int64, "exit_time": np.int64,
                  "exit_reason": np.int64, "is_open": np.bool_}
        arrays: dict[str, np.ndarray] = {
            n: np.asarray(v, dtype=dtypes.get(n, np.float64)) for n, v in self.columns.items()
        }
        return TradesTable(**arrays, symbols=symbols)


def round_trips(fills: Sequence[FillEvent], groups: Mapping[str, int],
                slippage_rate: float) -> tuple[dict[int, list[RoundTrip]], list[RoundTrip]]:
    """(closed round trips per group in order, positions still open at the end)."""
    closed: dict[int, list[RoundTrip]] = {g: [] for g in groups.values()}
    current: dict[int, RoundTrip] = {}
    for fill in fills:
        group = groups[fill.symbol]
        trip = current.setdefault(group, RoundTrip(group, fill.ts_ms))
        trip.add(fill, slippage_rate)
        if trip.held == 0:
            closed[group].append(current.pop(group))
    return closed, [t for t in current.values() if t.held > 0]


def _bar_of(timestamps: np.ndarray, ts_ms: int) -> int:
    return max(0, int(np.searchsorted(timestamps, ts_ms, side="right")) - 1)


def _closed_row(trade: TradeClosedEvent, trip: RoundTrip, timestamps: np.ndarray) -> dict:
    size, entry = float(trade.quantity), float(trade.entry_price)
    pnl = float(trade.net_pnl)
    return {
        "group": trip.group, "direction": 0 if trade.direction == "LONG" else 1, "size": size,
        "entry_index": _bar_of(timestamps, trade.opened_ms),
        "exit_index": _bar_of(timestamps, trade.closed_ms),
        "entry_time": trade.opened_ms, "exit_time": trade.closed_ms, "entry_price": entry,
        "exit_price": float(trade.exit_price), "entry_fees": float(trip.entry_fees),
        "exit_fees": float(trip.exit_fees), "pnl": pnl, "returns": pnl / (size * entry),
        "slippage": trip.slippage, "is_open": False,
        "exit_reason": COARSE_REASONS.get(trade.exit_reason, STOP),
    }


def _open_row(trip: RoundTrip, bars: Bars) -> dict:
    """A position the run left open, marked at the last close (no exit fee)."""
    size, entry = float(trip.held), float(trip.bought_value / trip.bought)
    last = len(bars) - 1
    pnl = size * (float(bars.close[last]) - entry) - float(trip.entry_fees)
    return {
        "group": trip.group, "direction": 0, "size": size,
        "entry_index": _bar_of(bars.timestamps, trip.first_ms), "exit_index": last,
        "entry_time": trip.first_ms, "exit_time": int(bars.timestamps[last]),
        "entry_price": entry, "exit_price": float(bars.close[last]),
        "entry_fees": float(trip.entry_fees), "exit_fees": 0.0, "pnl": pnl,
        "returns": pnl / (size * entry), "slippage": trip.slippage, "is_open": True,
        "exit_reason": OPEN,
    }


def kernel_trades(run: EventBacktestResult, bars: Sequence[Bars],
                  slippage_rate: float) -> tuple[TradesTable, tuple[str, ...]]:
    """The kernel's round trips as a trades table (ordered by entry bar, then instrument)."""
    groups = {b.symbol: g for g, b in enumerate(bars)}
    closed, still_open = round_trips(run.fills, groups, slippage_rate)
    rows = TradeRows()
    for group, b in enumerate(bars):
        trades = [t for t in run.trades if t.symbol == b.symbol]
        if len(trades) != len(closed[group]):
            raise ValueError(f"{b.symbol}: the kernel closed {len(trades)} trades but its "
                             f"fills make {len(closed[group])} round trips")
        for trade, trip in zip(trades, closed[group], strict=True):
            rows.add(trade.exit_reason, **_closed_row(trade, trip, b.timestamps))
    for trip in still_open:
        rows.add("open", **_open_row(trip, bars[trip.group]))
    table = rows.table(tuple(b.symbol for b in bars))
    order = np.lexsort((table.group, table.entry_index))
    reasons = tuple(rows.reasons[i] for i in order)
    return table.select(order), reasons


def equity_on_bars(run: EventBacktestResult, open_times: np.ndarray, bar_ms: int,
                   initial: float) -> np.ndarray:
    """The account's mark at each bar's close (the last mark at or before it)."""
    marks = np.searchsorted(run.equity_timestamps, open_times + bar_ms, side="right") - 1
    values = run.equity[np.maximum(marks, 0)] if len(run.equity) else np.zeros(len(marks))
    return np.where(marks >= 0, values, initial)


def positions_on_bars(run: EventBacktestResult, bars: Sequence[Bars], start: int) -> np.ndarray:
    """(bars, instruments) net units held at each close of [start, end)."""
    timestamps = bars[0].timestamps
    change = np.zeros((len(timestamps) - start, len(bars)))
    groups = {b.symbol: g for g, b in enumerate(bars)}
    for fill in run.fills:
        row = max(0, _bar_of(timestamps, fill.ts_ms) - start)
        sign = 1.0 if fill.side == "BUY" else -1.0
        change[row, groups[fill.symbol]] += sign * float(fill.quantity)
    return np.cumsum(change, axis=0)


@dataclass(frozen=True, eq=False)
class Account:
    """One kernel account's run and what it traded."""

    run: EventBacktestResult
    bars: tuple[Bars, ...]
    initial: float


def account_result(account: Account, *, strategy: str, params: Mapping[str, Any],
                   config: BacktestConfig, start: int) -> tuple[BacktestResult, tuple[str, ...]]:
    """The account as a vectorised-style result, and the kernel's exit reason of each trade."""
    bars = account.bars
    first = bars[0]
    timeframe = config.timeframe_for(first.timeframe)
    window = first.slice(start, len(first))
    equity = equity_on_bars(account.run, window.timestamps, timeframe_ms(first.timeframe),
                            account.initial)
    position = positions_on_bars(account.run, bars, start)
    share = account.initial / len(bars)
    benchmark = np.sum([buy_and_hold_equity(b.open[start:], b.close[start:], share)
                        for b in bars], axis=0)
    trades, reasons = kernel_trades(account.run, bars, config.costs.slippage)
    stats = backtest_report(
        timestamps=window.timestamps, equity=equity, initial_cash=account.initial,
        periods=config.periods_per_year(first.timeframe), bar_ms=timeframe_ms(timeframe),
        benchmark_equity=benchmark, in_market=np.any(position != 0, axis=1), trades=trades,
    )
    result = BacktestResult(
        strategy=strategy, params=dict(params), config=config,
        symbol="+".join(b.symbol for b in bars), timeframe=timeframe, start_index=start,
        initial_cash=account.initial, timestamps=window.timestamps, equity=equity,
        position=position[:, 0] if len(bars) == 1 else position,
        benchmark_equity=benchmark, trades=trades, stats=stats,
    )
    return result, reasons


def _concatenated(tables: Sequence[TradesTable], symbols: tuple[str, ...]) -> TradesTable:
    """Sub-accounts' tables as one, instrument g's trades in group g, by entry bar then group."""
    regrouped = [dataclasses.replace(t, group=np.full(len(t), g, dtype=np.int64))
                 for g, t in enumerate(tables)]
    arrays = {n: np.concatenate([getattr(t, n) for t in regrouped]) for n in TABLE_FIELDS}
    return TradesTable(**arrays, symbols=symbols)


def combined(results: Sequence[tuple[BacktestResult, tuple[str, ...]]], *,
             config: BacktestConfig, bars: Sequence[Bars],
             start: int) -> tuple[MultiBacktestResult, tuple[str, ...]]:
    """Sub-accounts summed into one portfolio, as the vectorised multi-instrument run does."""
    parts = [r for r, _ in results]
    symbols = tuple(b.symbol for b in bars)
    table = _concatenated([r.trades for r in parts], symbols)
    order = np.lexsort((table.group, table.entry_index))
    reasons = [reason for _, rs in results for reason in rs]
    equity = np.sum([r.equity for r in parts], axis=0)
    benchmark = np.sum([r.benchmark_equity for r in parts], axis=0)
    position = np.stack([r.position for r in parts], axis=1)
    first = parts[0]
    trades = table.select(order)
    stats = backtest_report(
        timestamps=first.timestamps, equity=equity, initial_cash=config.initial_cash,
        periods=config.periods_per_year(bars[0].timeframe),
        bar_ms=timeframe_ms(first.timeframe), benchmark_equity=benchmark,
        in_market=np.any(position != 0, axis=1), trades=trades,
    )
    portfolio = dataclasses.replace(
        first, symbol="+".join(symbols), initial_cash=config.initial_cash, equity=equity,
        position=position, benchmark_equity=benchmark, trades=trades, stats=stats,
    )
    return (MultiBacktestResult(portfolio=portfolio, instruments=tuple(parts)),
            tuple(reasons[i] for i in order))
