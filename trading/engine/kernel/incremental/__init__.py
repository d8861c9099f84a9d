"""Incremental forms of the built-in agents, for the kernel's per-candle loop.

`incremental_form(agent, series, window_bars)` returns the incremental form of
a batch agent (same parameters, same signals; see `protocol`) or None when the
agent has none, its parameters fall outside what the form reproduces, or the
kernel's window is too short for the forms to match; the kernel then runs the
batch agent on its window. Agents without state worth keeping (correlation,
sentiment, strategy) have no form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trading.engine.agents.base import Agent
from trading.engine.agents.market_regime import RegimeAgent
from trading.engine.agents.market_structure import MarketStructureAgent
from trading.engine.agents.momentum import MomentumAgent
from trading.engine.agents.time_decay import TimeDecayAgent
from trading.engine.agents.volatility import VolatilityAgent
from trading.engine.agents.volume_profile import VolumeProfileAgent
from trading.engine.kernel.incremental.market_structure import IncrementalMarketStructure
from trading.engine.kernel.incremental.momentum import IncrementalMomentum
from trading.engine.kernel.incremental.protocol import MIN_WINDOW, IncrementalAgent
from trading.engine.kernel.incremental.regime import IncrementalRegime
from trading.engine.kernel.incremental.series import SharedSeries
from trading.engine.kernel.incremental.time_decay import IncrementalTimeDecay
from trading.engine.kernel.incremental.volatility import IncrementalVolatility
from trading.engine.kernel.incremental.volume_profile import IncrementalVolumeProfile

FORMS: dict[type, Any] = {
    VolatilityAgent: IncrementalVolatility,
    MomentumAgent: IncrementalMomentum,
    VolumeProfileAgent: IncrementalVolumeProfile,
    MarketStructureAgent: IncrementalMarketStructure,
    RegimeAgent: IncrementalRegime,
    TimeDecayAgent: IncrementalTimeDecay,
}


def incremental_form(
    agent: Agent, series: SharedSeries, window_bars: int
) -> IncrementalAgent | None:
    """The incremental form of `agent` sharing `series`, or None (run the batch agent)."""
    form: Callable[..., IncrementalAgent] | None = FORMS.get(type(agent))
    if form is None or window_bars < MIN_WINDOW or not form.supports(agent):  # type: ignore[attr-defined]
        return None
    return form(agent, series)


__all__ = [
    "FORMS",
    "MIN_WINDOW",
    "IncrementalAgent",
    "SharedSeries",
    "incremental_form",
]
