"""The agent interface: `analyze(market) -> AgentSignal`.

Conventions: HOLD with confidence 0 abstains (the agent sees nothing worth a
vote); HOLD with a positive confidence actively argues for staying out.

Guarantees: an `AgentSignal` always has an `AgentAction`, a finite confidence in
[0, 1], a finite trail distance in [0, 1) (a fraction of price) and a reasoning
sentence; anything else raises `ValueError` when the signal is built, so an
orchestrator can treat a malformed signal like a failed agent. Parameterised
agents are frozen dataclasses whose fields are validated against their typed
`ParamSpace` on construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.strategy import ParameterError, ParamSpace

MIN_TRAIL = 0.002
MAX_TRAIL = 0.10
DEFAULT_TRAIL = 0.02


class AgentAction(StrEnum):
    TRAIL_BUY = "TRAIL_BUY"
    TRAIL_SELL = "TRAIL_SELL"
    HOLD = "HOLD"

    @property
    def direction(self) -> int:
        """+1 for buy, -1 for sell, 0 for hold."""
        return {"TRAIL_BUY": 1, "TRAIL_SELL": -1, "HOLD": 0}[self.value]


@dataclass(frozen=True)
class AgentSignal:
    """One agent's vote at one closed bar."""

    agent: str
    action: AgentAction
    confidence: float
    trail_distance: float
    reasoning: str
    details: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", AgentAction(self.action))
        confidence = float(self.confidence)
        if not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0):
            raise ValueError(f"{self.agent}: confidence must be in [0, 1], got {self.confidence!r}")
        trail = float(self.trail_distance)
        if not (math.isfinite(trail) and 0.0 <= trail < 1.0):
            raise ValueError(
                f"{self.agent}: trail distance must be a fraction in [0, 1), got {trail!r}"
            )
        if not self.reasoning:
            raise ValueError(f"{self.agent}: a signal needs its reasoning")
        object.__setattr__(self, "confidence", confidence)
        object.__setattr__(self, "trail_distance", trail)
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the journal and the dashboard."""
        return {
            "agent": self.agent,
            "action": self.action.value,
            "confidence": self.confidence,
            "trail_distance": self.trail_distance,
            "reasoning": self.reasoning,
            "details": {k: _json_number(v) for k, v in self.details.items()},
        }


def _json_number(value: float) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


@runtime_checkable
class Agent(Protocol):
    """Anything that votes on a market snapshot."""

    @property
    def name(self) -> str: ...

    def analyze(self, market: MarketSnapshot) -> AgentSignal: ...


@dataclass(frozen=True)
class ParamAgent:
    """Base of the built-in agents: dataclass fields are the tunable parameters.

    Subclasses declare `name`, `description` and `param_space` as class
    attributes and one field per parameter (same name, same default).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    param_space: ClassVar[ParamSpace] = ParamSpace()

    def __post_init__(self) -> None:
        validated = self.param_space.validate(self.params)
        for key, value in validated.items():
            object.__setattr__(self, key, value)
        errors = self.constraint_errors()
        if errors:
            raise ParameterError(errors)

    def constraint_errors(self) -> dict[str, str]:
        """Errors of rules between parameters (e.g. fast < slow); none by default."""
        return {}

    @property
    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_params(cls, **params: Any) -> Self:
        """An agent from a parameter mapping (missing ones take their defaults)."""
        return cls(**cls.param_space.validate(params))

    def signal(
        self,
        action: AgentAction,
        confidence: float,
        trail_distance: float,
        reasoning: str,
        **details: float,
    ) -> AgentSignal:
        return make_signal(self.name, action, confidence, trail_distance, reasoning, **details)

    def hold(self, reasoning: str, confidence: float = 0.0, **details: float) -> AgentSignal:
        """HOLD; with the default confidence 0 the agent abstains from the vote."""
        return self.signal(AgentAction.HOLD, confidence, DEFAULT_TRAIL, reasoning, **details)


def make_signal(
    agent: str,
    action: AgentAction,
    confidence: float,
    trail_distance: float,
    reasoning: str,
    **details: float,
) -> AgentSignal:
    """A signal with confidence clipped to [0, 1] and the trail clamped to its bounds."""
    return AgentSignal(
        agent=agent,
        action=action,
        confidence=clip01(confidence),
        trail_distance=clamp_trail(trail_distance),
        reasoning=reasoning,
        details=details,
    )


def clip01(value: float) -> float:
    """`value` clipped into [0, 1]; NaN becomes 0 (no information, no conviction)."""
    number = float(value)
    if not math.isfinite(number):
        return 0.0 if math.isnan(number) else (1.0 if number > 0 else 0.0)
    return min(1.0, max(0.0, number))


def clamp_trail(value: float, low: float = MIN_TRAIL, high: float = MAX_TRAIL) -> float:
    """A trail distance within [low, high]; NaN falls back to the default trail."""
    number = float(value)
    if math.isnan(number):
        return DEFAULT_TRAIL
    return min(high, max(low, number))


def tail(values: np.ndarray, count: int) -> np.ndarray:
    """The last `count` values (all of them when there are fewer)."""
    return values[-count:] if count < len(values) else values


def last_finite(values: np.ndarray) -> float:
    """The last value of an indicator, NaN when it is still warming up."""
    return float(values[-1]) if len(values) else math.nan
