"""What the kernel remembers per symbol between events, all of it checkpointed.

Guarantees: at most one entry and one exit are in flight per symbol (a
pending placement, a trailing order, or a working order); an `OpenTrade`
exists exactly while the portfolio holds the symbol, and carries its exit
plan, the price extremes seen since entry (for stops, MAE/MFE and the best
possible exit) and the context the entry was decided in. Market statistics
for decisions (daily volatility of log returns and mean bar volume over the
last 20 days) are advanced once per candle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trading.engine.agents.base import Agent
from trading.engine.decision import ExitPlan, LotRules
from trading.engine.feeds import Candle
from trading.engine.instruments import Instrument
from trading.engine.kernel.incremental import IncrementalAgent, SharedSeries, incremental_form
from trading.engine.kernel.incremental.series import RollingStats
from trading.engine.kernel.window import BarWindow
from trading.engine.market import timeframe_ms
from trading.engine.orchestrator import Orchestrator
from trading.engine.orders.model import OrderSide
from trading.engine.orders.trailing import TrailingOrder

STATS_DAYS = 20


@dataclass(frozen=True)
class PendingOrder:
    """A decided order waiting for the next observed price to be placed at."""

    side: OrderSide
    purpose: str  # "entry" or "exit"
    quantity: Decimal
    reason: str
    decided_ms: int


@dataclass
class EntryPlan:
    """An entry between its decision and its fill."""

    quantity: Decimal
    plan: ExitPlan | None
    context: dict[str, Any]
    decided_ms: int


@dataclass
class OpenTrade:
    """A held position and how it will be closed."""

    symbol: str
    opened_ms: int
    entry_price: float
    initial_quantity: Decimal
    plan: ExitPlan | None
    context: dict[str, Any]
    high: float
    high_ms: int
    low: float
    take_profits: list[str] = field(default_factory=list)
    exit_order: str | None = None
    exit_reason: str = ""
    entry_order: str | None = None
    exit_retry_ms: int = 0  # after a refused exit, none is sent again before this time

    def observe(self, price: float, ts_ms: int) -> None:
        if price > self.high:
            self.high, self.high_ms = price, ts_ms
        if price < self.low:
            self.low = price

    def exit_trigger(self, price: float, ts_ms: int) -> str:
        """Why the position must close now ("" while it may stay open)."""
        plan = self.plan
        if plan is None or self.exit_order is not None or self.entry_order is not None:
            return ""
        if ts_ms < self.exit_retry_ms:
            return ""
        if price <= self.entry_price * (1.0 - plan.stop_loss):
            return "stop_loss"
        if plan.trailing_stop is not None and price <= self.high * (1.0 - plan.trailing_stop):
            return "trailing_stop"
        if ts_ms >= self.opened_ms + plan.time_stop_ms:
            return "time_stop"
        return ""


class MarketStats:
    """Daily volatility and mean bar volume over the last 20 days, for decisions."""

    def __init__(self, timeframe: str) -> None:
        self._per_day = 86_400_000 / timeframe_ms(timeframe)
        span = int(round(STATS_DAYS * self._per_day))
        self._returns = RollingStats(span)
        self._volumes = RollingStats(span)
        self._last_close = math.nan

    def update(self, candle: Candle) -> None:
        if self._last_close == self._last_close:
            self._returns.push(math.log(candle.close / self._last_close))
        self._last_close = candle.close
        self._volumes.push(candle.volume)

    @property
    def daily_volatility(self) -> float:
        std = self._returns.sample_std()
        return std * math.sqrt(self._per_day) if std == std else 0.0

    @property
    def avg_bar_volume(self) -> float:
        mean = self._volumes.mean()
        return mean if mean == mean else 0.0


class SymbolState:
    """One symbol's window, agents, statistics and orders in flight."""

    def __init__(
        self,
        instrument: Instrument,
        timeframe: str,
        window_bars: int,
        orchestrator: Orchestrator,
        incremental: list[IncrementalAgent],
        series: SharedSeries,
    ) -> None:
        self.symbol = instrument.symbol
        self.instrument = instrument
        self.lot_rules = LotRules(instrument.lot_size, min_notional=instrument.min_notional)
        self.window = BarWindow(self.symbol, timeframe, window_bars)
        self.orchestrator = orchestrator
        self.incremental = incremental
        self.series = series
        self.stats = MarketStats(timeframe)
        self.pending: PendingOrder | None = None
        self.trailing: TrailingOrder | None = None
        self.trailing_purpose = ""
        self.entry: EntryPlan | None = None
        self.entry_order: str | None = None
        self.trade: OpenTrade | None = None
        self.mark = math.nan
        self.ticks_in_bar = 0
        self.candle_driven = False
        self.session_start_price: float | None = None
        self.last_candle_ms: int | None = None

    def learn(self, candle: Candle) -> None:
        """Add a closed candle to the window, the statistics and the incremental agents."""
        self.window.append(candle)
        self.stats.update(candle)
        for agent in self.incremental:
            agent.update(candle)
        if self.session_start_price is None:
            self.session_start_price = candle.close
        self.mark = candle.close
        self.last_candle_ms = candle.open_ms

    @property
    def exit_in_flight(self) -> bool:
        pending_exit = self.pending is not None and self.pending.purpose == "exit"
        trailing_exit = self.trailing is not None and self.trailing_purpose == "exit"
        working = self.trade is not None and self.trade.exit_order is not None
        return pending_exit or trailing_exit or working

    @property
    def entry_in_flight(self) -> bool:
        return self.entry is not None


def build_agents(
    agents: list[Agent], series: SharedSeries, window_bars: int, incremental: bool
) -> tuple[list[Agent], list[IncrementalAgent]]:
    """The symbol's voting agents: incremental forms where they exist, batch agents otherwise."""
    voters: list[Agent] = []
    forms: list[IncrementalAgent] = []
    for agent in agents:
        form = incremental_form(agent, series, window_bars) if incremental else None
        if form is None:
            voters.append(agent)
        else:
            voters.append(form)
            forms.append(form)
    return voters, forms
