"""The agent registry: every built-in agent by name, and a factory that validates params.

Guarantees: `create_agent(name, **params)` returns a ready agent or raises
`KeyError` for an unknown name and `ParameterError` (listing every bad field)
for bad parameters. `default_agents()` builds every agent that needs no
external object (all but the strategy agent) with its default parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from trading.engine.agents.base import Agent
from trading.engine.agents.correlation import CorrelationAgent
from trading.engine.agents.market_regime import RegimeAgent
from trading.engine.agents.market_structure import MarketStructureAgent
from trading.engine.agents.momentum import MomentumAgent
from trading.engine.agents.sentiment import SentimentAgent
from trading.engine.agents.strategy_agent import StrategyAgent
from trading.engine.agents.time_decay import TimeDecayAgent
from trading.engine.agents.volatility import VolatilityAgent
from trading.engine.agents.volume_profile import VolumeProfileAgent
from trading.engine.strategy import ParamSpace

AGENTS: Mapping[str, Any] = MappingProxyType(
    {
        "volatility": VolatilityAgent,
        "momentum": MomentumAgent,
        "volume_profile": VolumeProfileAgent,
        "market_structure": MarketStructureAgent,
        "regime": RegimeAgent,
        "time_decay": TimeDecayAgent,
        "correlation": CorrelationAgent,
        "sentiment": SentimentAgent,
        "strategy": StrategyAgent,
    }
)
STANDALONE_AGENTS: tuple[str, ...] = tuple(name for name in AGENTS if name != "strategy")


def create_agent(name: str, **params: Any) -> Agent:
    """The agent registered as `name`, built from `params` (defaults for the rest)."""
    try:
        cls = AGENTS[name]
    except KeyError:
        raise KeyError(f"unknown agent {name!r}; known: {sorted(AGENTS)}") from None
    agent: Agent = cls.from_params(**params)
    return agent


def agent_param_space(name: str) -> ParamSpace:
    """The typed parameter space of the agent registered as `name`."""
    space: ParamSpace = AGENTS[name].param_space
    return space


def default_agents(params: Mapping[str, Mapping[str, Any]] | None = None) -> list[Agent]:
    """Every standalone agent, with optional parameters per agent name."""
    params = params or {}
    unknown = sorted(set(params) - set(STANDALONE_AGENTS))
    if unknown:
        raise KeyError(f"unknown agents {unknown}; known: {list(STANDALONE_AGENTS)}")
    return [create_agent(name, **params.get(name, {})) for name in STANDALONE_AGENTS]
