"""Trading agents: each turns a `MarketSnapshot` into an `AgentSignal`.

Built-in agents (see `AGENTS`): volatility, momentum, volume_profile,
market_structure, regime, time_decay, correlation, sentiment, and strategy
(wraps any `trading.engine.strategy.Strategy`). Each has a typed `ParamSpace`.
"""

from trading.engine.agents.base import (
    Agent,
    AgentAction,
    AgentSignal,
    ParamAgent,
    make_signal,
)
from trading.engine.agents.correlation import CorrelationAgent
from trading.engine.agents.market_regime import RegimeAgent
from trading.engine.agents.market_structure import MarketStructureAgent
from trading.engine.agents.momentum import MomentumAgent
from trading.engine.agents.registry import (
    AGENTS,
    STANDALONE_AGENTS,
    agent_param_space,
    create_agent,
    default_agents,
)
from trading.engine.agents.sentiment import SentimentAgent
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.agents.strategy_agent import StrategyAgent
from trading.engine.agents.time_decay import TimeDecayAgent
from trading.engine.agents.volatility import VolatilityAgent
from trading.engine.agents.volume_profile import VolumeProfileAgent

__all__ = [
    "AGENTS",
    "STANDALONE_AGENTS",
    "Agent",
    "AgentAction",
    "AgentSignal",
    "CorrelationAgent",
    "MarketSnapshot",
    "MarketStructureAgent",
    "MomentumAgent",
    "ParamAgent",
    "RegimeAgent",
    "SentimentAgent",
    "StrategyAgent",
    "TimeDecayAgent",
    "VolatilityAgent",
    "VolumeProfileAgent",
    "agent_param_space",
    "create_agent",
    "default_agents",
    "make_signal",
]
