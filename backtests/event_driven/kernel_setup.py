"""How a backtest session's inputs become a trading-kernel configuration.

Guarantees:
- `paper_costs` is the session's cost model inside the paper executor: the
  taker fee and the slippage on every market (or marketable) fill, the maker
  fee on resting limits, no spread, no market impact, no volume cap, which is
  exactly what the vectorised engine charges.
- `engine_instrument` gives price and lot increments 1e-12 of the bars'
  smallest price and of the largest quantity the capital buys, so rounding on
  the exchange grid moves no price or size by more than ~1e-11 (relative):
  the vectorised engine does not round at all.
- `SessionSizing` sizes an entry like the session's `Sizing` does in the
  vectorised engine: `fraction` of the free cash (fees included), `cash` worth
  of units at the unslipped price, or fixed `units`; never more than the free
  cash pays for at the entry limit with fees; rounded down to `granularity`.
- `ENGINES` maps each event-driven engine name to how it is built:
  "strategy": the session's strategy alone (`StrategySignalDecision`, the
  session sizing, `ImmediateExecution`, `DecidedExitsOnly`, no circuit
  breakers), one sub-account per instrument like the vectorised
  multi-instrument runs, the configuration that reproduces the vectorised
  trades; "agents": every default agent (plus the strategy voting with
  `strategy_weight`, unless 0) deciding by consensus with the risk profile's
  thresholds, sizing, trailing entries, planned exits and circuit breakers,
  all instruments trading from one account.
- Risk profiles are derived from the warm-up bars before the first traded bar
  (at most `STATS_BARS` of them); only with fewer than `MIN_STATS_BARS`
  warm-up bars do they read the first bars of the range, and the kernel
  summary says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from backtests.engine.config import BacktestConfig
from backtests.engine.costs import Costs
from trading.engine.agents import StrategyAgent
from trading.engine.execution import PaperCosts
from trading.engine.instruments import Instrument
from trading.engine.kernel import (
    ConsensusDecision,
    DecidedExitsOnly,
    DecisionSizing,
    ImmediateExecution,
    KernelConfig,
    PlannedExits,
    StrategySignalDecision,
    TrailingExecution,
)
from trading.engine.kernel.policies import affordable
from trading.engine.market import Bars
from trading.engine.money import ONE, round_down, to_decimal
from trading.engine.risk import RiskLimits
from trading.engine.risk_profiles import MarketStats, RiskProfile
from trading.engine.strategy import Strategy

SESSION_ID = "backtest"
INCREMENT_DIGITS = 12  # increments are 1e-12 of the smallest price / largest quantity
MIN_STATS_BARS = 48
STATS_BARS = 1_000
DEFAULT_WINDOW_BARS = 500  # bars each agent (and the strategy) sees, as in a live session
MAX_WINDOW_BARS = 5_000
AGENTS_WARMUP_BARS = 500
# The vectorised backtest has no circuit breakers; neither has the strategy engine.
NO_BREAKERS = RiskLimits(
    max_drawdown=1.0,
    max_position_fraction=1.0,
    max_concurrent_positions=1_000,
    daily_loss_limit=1.0,
    max_consecutive_losses=1_000_000,
    max_daily_trades=1_000_000,
    max_slippage=1.0,
    max_exposure=1.0,
)


def paper_costs(costs: Costs) -> PaperCosts:
    return PaperCosts(
        spread=Decimal(0),
        maker_fee=to_decimal(costs.maker_fee),
        taker_fee=to_decimal(costs.taker_fee),
        slippage=to_decimal(costs.slippage),
        impact=Decimal(0),
        max_participation=None,
    )


def _power_of_ten(value: float) -> Decimal:
    return Decimal(f"1e{math.floor(math.log10(value)) - INCREMENT_DIGITS}")


def engine_instrument(bars: Bars, capital: float) -> Instrument:
    """The instrument of `bars` with increments fine enough never to move a result."""
    lows = bars.low[bars.low > 0]
    if len(lows) == 0:
        raise ValueError(f"{bars.symbol}: no positive prices to trade on")
    largest_quantity = capital / float(np.min(lows))
    return Instrument.from_symbol(
        bars.symbol,
        tick_size=_power_of_ten(float(np.min(lows))),
        lot_size=_power_of_ten(largest_quantity),
    )


@dataclass(frozen=True)
class SessionSizing:
    """The session's `Sizing` as a kernel sizing policy (see the module docstring)."""

    mode: str
    value: float
    granularity: float | None
    slippage: float

    def entry_quantity(
        self, decided: Decimal, cash: Decimal, limit: Decimal, fee_rate: Decimal,
        instrument: Instrument,
    ) -> Decimal:
        funded = affordable(cash, limit, fee_rate, instrument)
        quantity = min(self._wanted(cash, limit, fee_rate, instrument), funded)
        if self.granularity is not None:
            quantity = round_down(quantity, to_decimal(self.granularity))
        return instrument.round_quantity(quantity)

    def _wanted(self, cash: Decimal, limit: Decimal, fee_rate: Decimal,
                instrument: Instrument) -> Decimal:
        value = to_decimal(self.value)
        if self.mode == "fraction":
            return affordable(cash * value, limit, fee_rate, instrument)
        if self.mode == "cash":  # valued at the price before slippage, as vectorbt values it
            return value * (ONE + to_decimal(self.slippage)) / limit
        return value


def session_sizing(config: BacktestConfig) -> SessionSizing:
    sizing = config.sizing
    return SessionSizing(sizing.mode, sizing.value, sizing.granularity, config.costs.slippage)


def market_stats(bars: Bars, start: int) -> tuple[MarketStats, str]:
    """Market statistics of the warm-up bars, and where they came from."""
    if start >= MIN_STATS_BARS:
        first = max(0, start - STATS_BARS)
        return MarketStats.from_bars(bars.slice(first, start)), f"{start - first} warm-up bars"
    stop = min(len(bars), MIN_STATS_BARS)
    note = f"the first {stop} bars of the range ({start} warm-up bars were available)"
    return MarketStats.from_bars(bars.slice(0, stop)), note


@dataclass(frozen=True, eq=False)
class EngineInputs:
    """What an engine builds one account's kernel from."""

    bars: tuple[Bars, ...]  # the account's instruments, aligned
    start: int
    strategy: Strategy
    params: Mapping[str, Any]
    config: BacktestConfig
    options: Mapping[str, Any]
    capital: float
    window_bars: int

    def kernel(self, profile: RiskProfile, **policies: Any) -> KernelConfig:
        costs = self.config.costs
        return KernelConfig(
            session_id=SESSION_ID,
            symbols=tuple(b.symbol for b in self.bars),
            timeframe=self.bars[0].timeframe,
            capital=self.capital,
            profile=profile,
            fee_rate=max(costs.taker_fee, costs.maker_fee),  # what a limit buy reserves
            instruments=tuple(engine_instrument(b, self.capital) for b in self.bars),
            window_bars=self.window_bars,
            **policies,
        )

    def strategy_agent(self) -> StrategyAgent:
        return StrategyAgent(self.strategy, dict(self.params), window_bars=self.window_bars)


def window_bars(warmup: int) -> int:
    """Bars the agents see: the live default, or more for strategies with long look-backs."""
    return min(MAX_WINDOW_BARS, max(DEFAULT_WINDOW_BARS, warmup))


def strategy_kernel(inputs: EngineInputs) -> tuple[KernelConfig, dict[str, Any]]:
    agent = inputs.strategy_agent()
    stats, source = market_stats(inputs.bars[0], inputs.start)
    profile = RiskProfile.derive("aggressive", inputs.capital, stats,
                                 symbols=[b.symbol for b in inputs.bars])
    config = inputs.kernel(
        profile,
        agents=(),
        strategy_agent=agent,
        decision=StrategySignalDecision(agent.name),
        sizing=session_sizing(inputs.config),
        execution=ImmediateExecution(),
        exits=DecidedExitsOnly(),
        risk_limits=NO_BREAKERS,
        entry_protection=inputs.config.costs.slippage,  # the entry limit is the slipped fill
    )
    setup = {"agents": [agent.name], "weights": {agent.name: 1.0},
             "sizing": inputs.config.sizing.as_dict(), "market_stats_from": source}
    return config, setup


def agents_kernel(inputs: EngineInputs) -> tuple[KernelConfig, dict[str, Any]]:
    tolerance = str(inputs.options.get("risk_profile", "moderate"))
    weight = float(inputs.options.get("strategy_weight", 1.0))
    stats, source = market_stats(inputs.bars[0], inputs.start)
    profile = RiskProfile.derive(tolerance, inputs.capital, stats,
                                 symbols=[b.symbol for b in inputs.bars])
    agent = inputs.strategy_agent() if weight > 0 else None
    config = inputs.kernel(
        profile,
        agents=None,
        strategy_agent=agent,
        weights={agent.name: weight} if agent is not None else {},
        decision=ConsensusDecision(),
        sizing=DecisionSizing(),
        execution=TrailingExecution(),
        exits=PlannedExits(),
    )
    names = [a.name for a in config.agent_list()]
    setup = {"agents": names, "weights": {n: dict(config.weights).get(n, 1.0) for n in names},
             "sizing": f"risk profile ({tolerance})", "risk_profile": tolerance,
             "market_stats_from": source}
    return config, setup


KernelBuilder = Callable[[EngineInputs], tuple[KernelConfig, dict[str, Any]]]


@dataclass(frozen=True)
class EventEngine:
    name: str
    label: str
    shared_account: bool  # one account for every instrument (else one sub-account each)
    min_warmup_bars: int
    build: KernelBuilder


ENGINES: Mapping[str, EventEngine] = {
    "strategy": EventEngine(
        "strategy", "the strategy alone through the trading kernel (vectorised parity)",
        shared_account=False, min_warmup_bars=0, build=strategy_kernel,
    ),
    "agents": EventEngine(
        "agents", "every agent's consensus with trailing entries, planned exits and breakers",
        shared_account=True, min_warmup_bars=AGENTS_WARMUP_BARS, build=agents_kernel,
    ),
}


def accounts(engine: EventEngine, bars: Sequence[Bars]) -> list[tuple[Bars, ...]]:
    """The instruments of each account the engine trades."""
    return [tuple(bars)] if engine.shared_account else [(b,) for b in bars]
