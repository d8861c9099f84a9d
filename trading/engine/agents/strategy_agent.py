"""Strategy agent: any `Strategy` (a seed or an evolved genome) as a voter.

Guarantees: the wrapped strategy's parameters are validated against its own
`ParamSpace` when the agent is built. On each snapshot the strategy computes
its `Signals` on the last `window_bars` closed bars and the agent reads the last
bar only: an entry votes TRAIL_BUY, an exit or a short entry TRAIL_SELL,
nothing abstains. Confidence is the strategy's `extras["confidence"]` at that
bar when it provides one, else the agent's `confidence` parameter; the trail
is the strategy's trailing stop at that bar when set, else `trail_distance`.
A strategy that raises is reported by the orchestrator like any failing agent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from trading.engine.agents.base import AgentAction, AgentSignal, make_signal
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.strategy import Param, ParameterError, ParamSpace, Signals, Strategy

STRATEGY_AGENT_SPACE = ParamSpace(
    (
        Param("confidence", "float", 0.7, 0.05, 1.0, description="vote confidence"),
        Param("trail_distance", "float", 0.02, 0.002, 0.1),
        Param("window_bars", "int", 500, 50, 5000, description="bars the strategy sees"),
    )
)


@dataclass(frozen=True)
class StrategyAgent:
    """Votes with the wrapped strategy's signal at the last closed bar."""

    strategy: Strategy
    strategy_params: Mapping[str, Any] = field(default_factory=dict)
    confidence: float = 0.7
    trail_distance: float = 0.02
    window_bars: int = 500

    description = "an evolved or seed strategy voting at the last closed bar"
    param_space = STRATEGY_AGENT_SPACE

    def __post_init__(self) -> None:
        if not isinstance(self.strategy, Strategy):
            raise ParameterError({"strategy": "must implement the Strategy protocol"})
        own = STRATEGY_AGENT_SPACE.validate(
            {
                "confidence": self.confidence,
                "trail_distance": self.trail_distance,
                "window_bars": self.window_bars,
            }
        )
        for key, value in own.items():
            object.__setattr__(self, key, value)
        params = self.strategy.param_space.validate(dict(self.strategy_params))
        object.__setattr__(self, "strategy_params", MappingProxyType(params))

    @property
    def name(self) -> str:
        return f"strategy:{self.strategy.name}"

    @classmethod
    def from_params(cls, **params: Any) -> StrategyAgent:
        """`strategy=` the strategy object, `strategy_params=` its parameters, plus own params."""
        if "strategy" not in params:
            raise ParameterError({"strategy": "required: the strategy to wrap"})
        return cls(**params)

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        bars = market.bars
        if len(bars) < 2:
            return self._hold(f"only {len(bars)} bars")
        window = bars.slice(max(0, len(bars) - self.window_bars), len(bars))
        signals = self.strategy.signals(window, self.strategy_params)
        if len(signals.entries) != len(window):
            raise ValueError(
                f"strategy {self.strategy.name} returned {len(signals.entries)} signals "
                f"for {len(window)} bars"
            )
        action = _last_action(signals)
        if action is AgentAction.HOLD:
            return self._hold(f"{self.strategy.name}: no signal at the last bar")
        confidence = _at_last(signals.extras.get("confidence"), self.confidence)
        trail = _at_last(signals.tsl_stop, self.trail_distance)
        what = "entry" if action is AgentAction.TRAIL_BUY else "exit"
        why = f"{self.strategy.name} signals an {what} at the last closed bar"
        return make_signal(self.name, action, confidence, trail, why)

    def _hold(self, why: str) -> AgentSignal:
        return make_signal(self.name, AgentAction.HOLD, 0.0, self.trail_distance, why)


def _last_action(signals: Signals) -> AgentAction:
    if bool(signals.entries[-1]):
        return AgentAction.TRAIL_BUY
    if bool(signals.exits[-1]) or (
        signals.short_entries is not None and bool(signals.short_entries[-1])
    ):
        return AgentAction.TRAIL_SELL
    return AgentAction.HOLD


def _at_last(values: np.ndarray | float | None, default: float) -> float:
    if values is None:
        return default
    value = float(values[-1]) if isinstance(values, np.ndarray) else float(values)
    return value if math.isfinite(value) and value > 0 else default
