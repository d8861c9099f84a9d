"""What one trading session runs with: a frozen, validated `KernelConfig`.

Guarantees: a config is immutable and checked on construction (known
timeframe, at least one symbol, positive capital, sane fractions, unique agent
names, the strategy-decision agent present). Risk limits default to the risk
profile's; instruments default to `Instrument.from_symbol`. Nothing in it says
"backtest", "paper" or "live": those differ only by the clock, feed and
executor given to the kernel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from trading.engine.agents.base import Agent
from trading.engine.agents.registry import default_agents
from trading.engine.agents.strategy_agent import StrategyAgent
from trading.engine.feed_guard import FeedGuardConfig
from trading.engine.instruments import Instrument
from trading.engine.kernel.grid_policy import GridPolicy
from trading.engine.kernel.policies import (
    ConsensusDecision,
    DecisionPolicy,
    DecisionSizing,
    ExecutionStyle,
    ExitPolicy,
    PlannedExits,
    SizingPolicy,
    StrategySignalDecision,
    TrailingExecution,
)
from trading.engine.kernel.records import OutcomeBands
from trading.engine.market import timeframe_ms
from trading.engine.money import to_decimal
from trading.engine.risk import RiskLimits
from trading.engine.risk_profiles import RiskProfile


def limits_from_profile(profile: RiskProfile) -> RiskLimits:
    """The circuit-breaker limits a risk profile implies."""
    return RiskLimits(
        max_drawdown=profile.max_drawdown,
        max_position_fraction=profile.max_position_fraction,
        max_concurrent_positions=profile.max_positions,
        daily_loss_limit=profile.daily_loss_limit,
        max_consecutive_losses=profile.max_consecutive_losses,
        max_daily_trades=profile.max_daily_trades,
        max_slippage=profile.max_slippage,
        max_exposure=profile.max_exposure,
    )


@dataclass(frozen=True)
class KernelConfig:
    """One session's settings; `agents=None` means every standalone agent with defaults.

    A "strategy-only" session is `agents=()`, `strategy_agent=StrategyAgent(...)`,
    `decision=StrategySignalDecision(<its name>)` and the sizing, execution and
    exit policies of the backtest it must match; nothing else changes.
    """

    session_id: str
    symbols: tuple[str, ...]
    timeframe: str
    capital: float
    profile: RiskProfile
    agents: tuple[Agent, ...] | None = None
    strategy_agent: StrategyAgent | None = None  # an evolved or seed strategy voting too
    weights: Mapping[str, float] = field(default_factory=dict)
    enabled: tuple[str, ...] | None = None
    decision: DecisionPolicy = ConsensusDecision()
    sizing: SizingPolicy = DecisionSizing()
    execution: ExecutionStyle = TrailingExecution()
    exits: ExitPolicy = PlannedExits()
    risk_limits: RiskLimits | None = None
    feed_guard: FeedGuardConfig = FeedGuardConfig()
    resume_after_good: int | None = 3  # good inputs that lift a bad-data pause (None: operator)
    window_bars: int = 500
    incremental_agents: bool = True
    agent_budget_s: float = 0.05
    entry_protection: float = 0.002  # entry limit above the price it is placed at
    entry_ttl_bars: int = 1  # an unfilled entry limit expires after this many bars
    fee_rate: float = 0.001  # assumed taker fee when sizing what cash can fund
    quote: str = "USDT"
    instruments: tuple[Instrument, ...] = ()
    outcome_bands: OutcomeBands = OutcomeBands()
    id_prefix: str = "org"
    grid: GridPolicy | None = None  # a grid owning some symbols (see `grid_policy`)

    def __post_init__(self) -> None:
        timeframe_ms(self.timeframe)
        if not self.symbols or len(set(self.symbols)) != len(self.symbols):
            raise ValueError("a session needs one or more distinct symbols")
        if not (math.isfinite(self.capital) and self.capital > 0):
            raise ValueError("capital must be a positive amount")
        if self.window_bars < 50 or self.entry_ttl_bars < 1:
            raise ValueError("window_bars must be >= 50 and entry_ttl_bars >= 1")
        for name in ("entry_protection", "fee_rate"):
            if not 0.0 <= getattr(self, name) < 0.1:
                raise ValueError(f"{name} must be a fraction in [0, 0.1)")
        object.__setattr__(self, "symbols", tuple(self.symbols))
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))
        if not self.instruments:
            object.__setattr__(
                self, "instruments", tuple(Instrument.from_symbol(s) for s in self.symbols)
            )
        missing = set(self.symbols) - {i.symbol for i in self.instruments}
        if missing:
            raise ValueError(f"no instrument for {sorted(missing)}")
        names = [a.name for a in self.agent_list()]
        if len(set(names)) != len(names):
            raise ValueError(f"agent names must be unique, got {names}")
        if isinstance(self.decision, StrategySignalDecision) and self.decision.agent not in names:
            raise ValueError(f"the decision follows {self.decision.agent!r}, not among {names}")
        unknown = set(self.grid.symbols or ()) - set(self.symbols) if self.grid else set()
        if unknown:
            raise ValueError(f"the grid trades {sorted(unknown)}, not symbols of this session")

    def agent_list(self) -> list[Agent]:
        """The voting agents: `agents` (every standalone one by default) plus the strategy."""
        agents = list(self.agents) if self.agents is not None else default_agents()
        return agents if self.strategy_agent is None else [*agents, self.strategy_agent]

    def instrument(self, symbol: str) -> Instrument:
        return next(i for i in self.instruments if i.symbol == symbol)

    @property
    def capital_decimal(self) -> Decimal:
        return to_decimal(self.capital)

    @property
    def limits(self) -> RiskLimits:
        return self.risk_limits or limits_from_profile(self.profile)

    @property
    def bar_ms(self) -> int:
        return timeframe_ms(self.timeframe)
