"""The incremental agent interface: state updated once per candle, analysis in O(1).

Guarantees of every `IncrementalAgent` built here from a batch agent:
- `update(candle)` is called with every closed candle of its symbol, in order,
  before `analyze(market)`; `analyze` must be given the snapshot whose window
  ends with that candle (the kernel's window of at least `MIN_WINDOW` bars).
- Its signal then equals the wrapped batch agent's `analyze(market)`: the same
  action, reasoning and details, with numbers equal up to float rounding. The
  one systematic difference: the batch agents seed Wilder/EMA indicators (RSI,
  ATR, MACD) at the start of a 250-bar tail of the window, the incremental
  ones at the start of the session; the seed's weight after 236 bars is about
  2.5e-8 of the value, far below anything a threshold can see in practice
  (tests compare both forms bar by bar on real data).
- Anything the incremental form does not track (a higher timeframe on the
  snapshot) makes it defer to the batch agent for that call.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from trading.engine.agents.base import (
    DEFAULT_TRAIL,
    MAX_TRAIL,
    MIN_TRAIL,
    AgentAction,
    AgentSignal,
    clamp_trail,
    clip01,
)
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.feeds import Candle

MIN_WINDOW = 500  # bars the kernel's window must hold for the forms to equal the batch agents


@runtime_checkable
class IncrementalAgent(Protocol):
    """An agent that keeps its indicators up to date candle by candle."""

    @property
    def name(self) -> str: ...

    def update(self, candle: Candle) -> None: ...

    def analyze(self, market: MarketSnapshot) -> AgentSignal: ...


def atr_fraction_of(atr_value: float, close: float) -> float:
    """What `common_indicators.atr_fraction` returns for this ATR and last close."""
    return float(atr_value / close)


def atr_trail_of(fraction: float, multiple: float) -> float:
    """What `common_indicators.atr_trail` returns for this ATR fraction."""
    return DEFAULT_TRAIL if math.isnan(fraction) else clamp_trail(multiple * fraction)


_new = object.__new__
_set = object.__setattr__


def fast_signal(
    agent: str,
    action: AgentAction,
    confidence: float,
    trail_distance: float,
    reasoning: str,
    details: dict[str, float],
) -> AgentSignal:
    """Exactly what `agents.base.make_signal` builds, without re-validating what it clipped.

    Confidence is clipped to [0, 1] and the trail clamped to its bounds as
    `make_signal` does, so every `AgentSignal` invariant holds; `details` must
    be a fresh dict (it is wrapped, not copied).
    """
    confidence = float(confidence)
    if not 0.0 <= confidence <= 1.0:
        confidence = clip01(confidence)
    trail = float(trail_distance)
    if not MIN_TRAIL <= trail <= MAX_TRAIL:
        trail = clamp_trail(trail)
    signal = _new(AgentSignal)
    _set(signal, "agent", agent)
    _set(signal, "action", action)
    _set(signal, "confidence", confidence)
    _set(signal, "trail_distance", trail)
    _set(signal, "reasoning", reasoning)
    _set(signal, "details", MappingProxyType(details))
    return signal


class SignalMaker:
    """`signal` / `hold` with the batch agent's name, built by `fast_signal`.

    Each takes its details as one fresh dict (not keyword arguments), saving a copy.
    """

    __slots__ = ("agent_name",)

    def __init__(self, agent_name: str) -> None:
        self.agent_name = agent_name

    def signal(
        self, action: AgentAction, confidence: float, trail: float, reasoning: str,
        details: dict[str, float],
    ) -> AgentSignal:
        return fast_signal(self.agent_name, action, confidence, trail, reasoning, details)

    def hold(self, reasoning: str, details: dict[str, float] | None = None) -> AgentSignal:
        """HOLD with confidence 0: the agent abstains."""
        return fast_signal(
            self.agent_name, AgentAction.HOLD, 0.0, DEFAULT_TRAIL, reasoning, details or {}
        )
