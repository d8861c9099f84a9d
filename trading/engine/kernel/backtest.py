"""Event-driven backtests: the trading kernel replaying stored bars as fast as possible.

Guarantees: `run_event_backtest` runs the same `TradingKernel` a paper or live
session runs, on a `SimulatedClock`, a `MultiReplayFeed` (the events
`ReplayFeed` gives, for one symbol or several merged in time, with intra-bar
ticks along `path`, default "auto") and a `PaperExecutor` with `costs`.
Bars before `start` only warm the agents up, except the last of them, whose
close is decided on so that its signal can fill at bar `start`'s open (as in
the vectorised backtests); the equity curve covers the closes of bars
[start, end). Replays measure no wall time: agents' time budgets read a
frozen timer, so results never depend on the machine's speed and the same
inputs give the same events. With `close_at_end` (the default, like the
vectorised backtests) nothing is opened after the second-to-last candle and
every position is closed at the last candle's first price.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from trading.engine.clock import SimulatedClock
from trading.engine.events import EngineEvent, EventBus, FillEvent
from trading.engine.execution import PaperCosts, PaperExecutor
from trading.engine.feeds import Candle, PathOrder
from trading.engine.kernel.config import KernelConfig
from trading.engine.kernel.kernel import TradingKernel
from trading.engine.kernel.ports import JournalSink
from trading.engine.kernel.records import EquityEvent, TradeClosedEvent
from trading.engine.kernel.replay import MultiReplayFeed
from trading.engine.market import Bars
from trading.engine.portfolio import PortfolioState


@dataclass(frozen=True, eq=False)
class EventBacktestResult:
    config: KernelConfig
    trades: tuple[TradeClosedEvent, ...]
    fills: tuple[FillEvent, ...]
    equity_timestamps: np.ndarray  # candle close times (ms)
    equity: np.ndarray  # account value at each candle close
    events: tuple[EngineEvent, ...]  # every event, in order (empty unless kept)
    portfolio: PortfolioState
    balances: Mapping[str, Decimal]
    candles: int  # candles processed (from bar start - 1)
    elapsed_s: float

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1]) if len(self.equity) else float(self.config.capital)

    @property
    def candles_per_second(self) -> float:
        return self.candles / self.elapsed_s if self.elapsed_s > 0 else float("inf")


class _Recorder:
    def __init__(self, keep_events: bool) -> None:
        self.keep_events = keep_events
        self.events: list[EngineEvent] = []
        self.trades: list[TradeClosedEvent] = []
        self.fills: list[FillEvent] = []
        self.equity: dict[int, float] = {}

    def __call__(self, event: EngineEvent) -> None:
        if self.keep_events:
            self.events.append(event)
        if isinstance(event, EquityEvent):
            self.equity[event.ts_ms] = float(event.equity)
        elif isinstance(event, TradeClosedEvent):
            self.trades.append(event)
        elif isinstance(event, FillEvent):
            self.fills.append(event)


def _replay(kernel: TradingKernel, feed: MultiReplayFeed, close_at_end: bool) -> int:
    """Run the feed through the kernel; wind down after every symbol's second-to-last candle."""
    remaining = {b.symbol: len(b) - feed.start for b in feed.bars}
    winding = sum(1 for n in remaining.values() if n >= 2)
    candles = 0
    for event in feed:
        kernel.process(event)
        if not isinstance(event, Candle):
            continue
        candles += 1
        remaining[event.symbol] -= 1
        if remaining[event.symbol] == 1:
            winding -= 1
            if close_at_end and winding == 0:
                kernel.wind_down("end")
    return candles


def run_event_backtest(
    bars_by_symbol: Mapping[str, Bars],
    config: KernelConfig,
    *,
    costs: PaperCosts | None = None,
    start: int = 0,
    close_at_end: bool = True,
    path: PathOrder | None = "auto",
    keep_events: bool = True,
    bus: EventBus | None = None,
    journal: JournalSink | None = None,
) -> EventBacktestResult:
    """Replay `bars_by_symbol` (one `Bars` per configured symbol) through the kernel."""
    bars = [bars_by_symbol[s] for s in config.symbols]
    clock = SimulatedClock(0)
    executor = PaperExecutor(
        instruments=config.instruments,
        balances={config.quote: config.capital_decimal},
        clock=clock,
        costs=costs or PaperCosts(),
        path=path or "auto",
    )
    bus = bus or EventBus()
    recorder = _Recorder(keep_events)
    bus.subscribe(EngineEvent, recorder)
    # the last warm-up candle is decided on (its signal fills at bar `start`'s open)
    first = max(0, start - 1)
    history = {b.symbol: b.slice(0, first) for b in bars} if first > 0 else None
    kernel = TradingKernel(
        config, clock=clock, executor=executor, bus=bus, journal=journal,
        timer=lambda: 0.0, history=history,
    )
    began = time.perf_counter()
    candles = _replay(kernel, MultiReplayFeed(bars, clock, path=path, start=first), close_at_end)
    elapsed = time.perf_counter() - began
    opened = min(int(b.timestamps[start]) for b in bars) + config.bar_ms
    curve = [(ts, value) for ts, value in recorder.equity.items() if ts >= opened]
    stamps = np.array([ts for ts, _ in curve], dtype=np.int64)
    values = np.array([value for _, value in curve], dtype=np.float64)
    return EventBacktestResult(
        config=config,
        trades=tuple(recorder.trades),
        fills=tuple(recorder.fills),
        equity_timestamps=stamps,
        equity=values,
        events=tuple(recorder.events),
        portfolio=kernel.portfolio.snapshot(),
        balances={a: b.total for a, b in executor.balances().items()},
        candles=candles,
        elapsed_s=elapsed,
    )
