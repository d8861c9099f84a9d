"""Building blocks of the kernel tests: hand-made bar paths, a scripted policy, a list feed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from trading.engine.agents import AgentAction
from trading.engine.clock import SimulatedClock
from trading.engine.decision import Decision, DecisionAction, ExitPlan
from trading.engine.events import EngineEvent, EventBus
from trading.engine.execution import PaperCosts, PaperExecutor
from trading.engine.feeds import Candle, FeedEvent, intrabar_path
from trading.engine.instruments import Instrument
from trading.engine.kernel import (
    DecisionInputs,
    DecisionSizing,
    ImmediateExecution,
    JournalSink,
    KernelConfig,
    PlannedExits,
    TradingKernel,
)
from trading.engine.market import Bars
from trading.engine.risk import RiskLimits
from trading.engine.risk_profiles import DEFAULT_TAKE_PROFITS, MarketStats, RiskProfile

START_MS = 1_640_995_200_000  # 2022-01-01 00:00 UTC
HOUR = 3_600_000
SYMBOL = "BTCUSDT"
NO_COSTS = PaperCosts(
    spread=Decimal(0), maker_fee=Decimal("0.001"), taker_fee=Decimal("0.001"),
    slippage=Decimal(0), impact=Decimal(0), max_participation=None,
)
LOOSE_LIMITS = RiskLimits(
    max_drawdown=0.9, max_position_fraction=1.0, max_concurrent_positions=5,
    daily_loss_limit=0.9, max_consecutive_losses=100, max_daily_trades=100,
    max_slippage=0.5, max_exposure=1.0,
)


def ohlc_bars(rows: Sequence[tuple[float, float, float, float]], volume: float = 1_000.0) -> Bars:
    """Hourly bars from (open, high, low, close) rows, starting 2022-01-01."""
    table = np.asarray(rows, dtype=np.float64)
    stamps = START_MS + HOUR * np.arange(len(rows), dtype=np.int64)
    return Bars.from_arrays(
        stamps, table[:, 0], table[:, 1], table[:, 2], table[:, 3],
        np.full(len(rows), volume), symbol=SYMBOL, timeframe="1h",
    )


def flat(count: int, price: float = 100.0) -> list[tuple[float, float, float, float]]:
    return [(price, price * 1.001, price * 0.999, price)] * count


def close_ms(bar: int) -> int:
    """The close time of bar `bar` (when a decision on it is made)."""
    return START_MS + (bar + 1) * HOUR


@dataclass(frozen=True)
class ScriptedEntries:
    """A decision policy for tests: buy `quantity` at the listed candle closes, with `plan`."""

    at_ms: tuple[int, ...]
    quantity: Decimal
    plan: ExitPlan | None

    def decide(self, inputs: DecisionInputs) -> Decision:
        candle = inputs.candle
        buy = candle.ts_ms in self.at_ms and inputs.position_qty == 0
        return Decision(
            timestamp_ms=candle.ts_ms,
            symbol=candle.symbol,
            action=DecisionAction.TRAIL_BUY if buy else DecisionAction.SKIP,
            consensus_action=AgentAction.HOLD,
            confidence=1.0 if buy else 0.0,
            threshold=None,
            price=candle.close,
            quantity=self.quantity if buy else Decimal(0),
            trail_distance=0.02,
            tolerance="moderate",
            reasons=("scripted entry",) if buy else ("scripted: nothing to do", "skip"),
            exit_plan=self.plan if buy else None,
        )


def plan(
    stop: float = 0.08, time_stop_ms: int = 1_000 * HOUR, trailing: float | None = None
) -> ExitPlan:
    return ExitPlan(stop, DEFAULT_TAKE_PROFITS, time_stop_ms, trailing)


def scripted_config(
    entries: ScriptedEntries, limits: RiskLimits = LOOSE_LIMITS, **overrides: object
) -> KernelConfig:
    stats = MarketStats(price=100.0, daily_volatility=0.03, avg_swing=0.04, avg_bar_volume=1e3)
    values: dict[str, object] = {
        "session_id": "scripted",
        "symbols": (SYMBOL,),
        "timeframe": "1h",
        "capital": 10_000.0,
        "profile": RiskProfile.derive("moderate", 10_000.0, stats, symbols=[SYMBOL]),
        "agents": (),
        "decision": entries,
        "sizing": DecisionSizing(),
        "execution": ImmediateExecution(),
        "exits": PlannedExits(),
        "risk_limits": limits,
        "instruments": (
            Instrument.from_symbol(SYMBOL, tick_size=Decimal("0.01"), lot_size=Decimal("0.001")),
        ),
    }
    values.update(overrides)
    return KernelConfig(**values)  # type: ignore[arg-type]


class ListFeed:
    """Replays given events, moving the clock forward to each (never back)."""

    def __init__(self, events: Sequence[FeedEvent], clock: SimulatedClock) -> None:
        self.events = list(events)
        self.clock = clock

    def __iter__(self) -> Iterator[FeedEvent]:
        for event in self.events:
            if event.ts_ms > self.clock.now_ms():
                self.clock.advance_to(event.ts_ms)
            yield event


def path_events(bars: Bars) -> list[FeedEvent]:
    """Each bar's four intra-bar ticks, then the candle (what a replay feed yields)."""
    events: list[FeedEvent] = []
    for index in range(len(bars)):
        candle = Candle.from_bars(bars, index)
        events.extend(intrabar_path(candle))
        events.append(candle)
    return events


@dataclass
class Session:
    """A kernel with a paper executor and an event log, for one test."""

    config: KernelConfig
    costs: PaperCosts = NO_COSTS
    clock: SimulatedClock = field(default_factory=lambda: SimulatedClock(START_MS))
    bus: EventBus = field(default_factory=EventBus)
    log: list[EngineEvent] = field(default_factory=list)
    journal: JournalSink | None = None

    def __post_init__(self) -> None:
        self.executor = PaperExecutor(
            instruments=self.config.instruments,
            balances={self.config.quote: self.config.capital_decimal},
            clock=self.clock,
            costs=self.costs,
        )
        self.bus.subscribe(EngineEvent, self.log.append)
        self.kernel = TradingKernel(
            self.config, clock=self.clock, executor=self.executor, bus=self.bus,
            journal=self.journal, timer=lambda: 0.0,
        )

    def play(self, events: Sequence[FeedEvent]) -> None:
        for event in ListFeed(events, self.clock):
            self.kernel.process(event)

    def of(self, kind: type) -> list:
        return [e for e in self.log if isinstance(e, kind)]
