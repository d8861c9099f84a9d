"""Grid scenarios for the kernel tests: synthetic paths, a kernel+paper-executor run, book checks.

Synthetic paths are built from closes (each bar opens at the previous close,
with a 0.05% wick) and replayed tick by tick along their intra-bar paths
through the real kernel and paper executor.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from tests.trading.engine.kernel_scenarios import (
    HOUR,
    LOOSE_LIMITS,
    NO_COSTS,
    START_MS,
    SYMBOL,
)
from trading.engine.clock import SimulatedClock
from trading.engine.events import EngineEvent, EventBus
from trading.engine.execution import PaperCosts, PaperExecutor
from trading.engine.feeds import Candle
from trading.engine.instruments import Instrument
from trading.engine.kernel import (
    EquityEvent,
    GridEvent,
    GridPolicy,
    KernelConfig,
    KernelOrderEvent,
    MultiReplayFeed,
    TradingKernel,
)
from trading.engine.market import Bars
from trading.engine.risk import RiskLimits
from trading.engine.risk_profiles import MarketStats, RiskProfile

FEE = Decimal("0.001")  # NO_COSTS: maker and taker fee, no spread, slippage or volume cap


def bars_from_closes(closes: Sequence[float], volume: float = 1_000.0) -> Bars:
    c = np.asarray(closes, dtype=np.float64)
    o = np.concatenate([c[:1], c[:-1]])
    stamps = START_MS + HOUR * np.arange(len(c), dtype=np.int64)
    return Bars.from_arrays(
        stamps, o, np.maximum(o, c) * 1.0005, np.minimum(o, c) * 0.9995, c,
        np.full(len(c), volume), symbol=SYMBOL, timeframe="1h",
    )


def sawtooth(low: float, high: float, leg: int, legs: int) -> np.ndarray:
    """Linear legs low -> high -> low ..., `leg` bars each, ending on a turn."""
    points: list[float] = []
    a, b = low, high
    for _ in range(legs):
        points.extend(np.linspace(a, b, leg, endpoint=False))
        a, b = b, a
    return np.array([*points, a])


def grid_config(grid: GridPolicy, limits: RiskLimits = LOOSE_LIMITS, **overrides) -> KernelConfig:
    stats = MarketStats(price=100.0, daily_volatility=0.03, avg_swing=0.04, avg_bar_volume=1e3)
    values: dict = {
        "session_id": "grid-test",
        "symbols": (SYMBOL,),
        "timeframe": "1h",
        "capital": 10_000.0,
        "profile": RiskProfile.derive("moderate", 10_000.0, stats, symbols=[SYMBOL]),
        "agents": (),
        "risk_limits": limits,
        "grid": grid,
        "instruments": (
            Instrument.from_symbol(SYMBOL, tick_size=Decimal("0.01"), lot_size=Decimal("0.001")),
        ),
    }
    values.update(overrides)
    return KernelConfig(**values)


class GridRun:
    """A kernel warmed up on bars [0, warm) that trades bars [warm, end) tick by tick."""

    def __init__(self, config: KernelConfig, bars: Bars, warm: int,
                 costs: PaperCosts = NO_COSTS) -> None:
        self.clock = SimulatedClock(0)
        self.executor = PaperExecutor(
            instruments=config.instruments, balances={config.quote: config.capital_decimal},
            clock=self.clock, costs=costs,
        )
        self.log: list[EngineEvent] = []
        bus = EventBus()
        bus.subscribe(EngineEvent, self.log.append)
        self.kernel = TradingKernel(
            config, clock=self.clock, executor=self.executor, bus=bus, timer=lambda: 0.0,
            history={SYMBOL: bars.slice(0, warm)},
        )
        self.bars, self.warm = bars, warm
        self.events = iter(MultiReplayFeed([bars], self.clock, path="auto", start=warm))

    def play(self, until: int | None = None) -> GridRun:
        """Process events up to the candle of bar `until - 1` (all of them by default)."""
        last = None if until is None else int(self.bars.timestamps[until - 1])
        for event in self.events:
            self.kernel.process(event)
            if isinstance(event, Candle) and event.open_ms == last:
                break
        return self

    def of(self, kind: type) -> list:
        return [e for e in self.log if isinstance(e, kind)]

    def grid_orders(self, status: str, side: str | None = None) -> list[KernelOrderEvent]:
        return [
            e for e in self.of(KernelOrderEvent)
            if e.tag == "grid" and e.status == status and side in (None, e.side)
        ]


def first_grid(run: GridRun) -> GridEvent:
    return run.of(GridEvent)[0]


def level_prices(event: GridEvent) -> dict[int, Decimal]:
    return {index: price for index, price, _, _ in event.levels}


def assert_books_reconcile(state, balances, fills) -> None:
    basis = sum((p.cost_basis for p in state.positions), Decimal(0))
    assert state.cash + basis == state.initial_cash + state.realized_pnl - state.fees
    assert balances["USDT"] == state.cash
    held = sum((p.quantity for p in state.positions), Decimal(0))
    assert balances.get("BTC", Decimal(0)) == held
    assert sum((f.fee for f in fills), Decimal(0)) == state.fees


# -- levels and spacing ----------------------------------------------------------------------


class InventoryWatch:
    """After every candle: the grid's lots against the book, and their cost against the cap."""

    def __init__(self, run: GridRun) -> None:
        self.run = run
        self.costs: list[Decimal] = []
        run.kernel.bus.subscribe(EquityEvent, self)

    def __call__(self, event: EquityEvent) -> None:
        book = self.run.kernel.grid.books[SYMBOL]
        assert book.inventory == self.run.kernel.portfolio.position(SYMBOL).quantity
        self.costs.append(book.inventory_cost)
