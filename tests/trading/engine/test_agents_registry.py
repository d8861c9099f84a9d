"""The agent registry, typed parameter spaces, and the strategy-wrapping agent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from tests.trading.engine.agent_series import bars_from_closes, drifting_closes, zigzag_closes
from trading.engine.agents import (
    AGENTS,
    STANDALONE_AGENTS,
    AgentAction,
    MarketSnapshot,
    MomentumAgent,
    StrategyAgent,
    agent_param_space,
    create_agent,
    default_agents,
)
from trading.engine.indicators import sma
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParameterError, ParamSpace, Signals


class CloseAboveAverage:
    """Enters when the close crosses over its SMA, exits when it crosses under."""

    name = "close_above_average"
    description = "test strategy"
    param_space = ParamSpace((Param("period", "int", 10, 2, 100),))

    def signals(self, bars: Bars, params: Mapping[str, Any]) -> Signals:
        average = sma(bars.close, params["period"])
        above = np.nan_to_num(bars.close - average) > 0
        before = np.r_[False, above[:-1]]
        confidence = np.full(len(bars), 0.65)
        return Signals(
            entries=above & ~before,
            exits=~above & before,
            tsl_stop=0.03,
            extras={"confidence": confidence},
        )


def test_every_agent_has_a_typed_param_space_whose_defaults_build_it():
    for name in STANDALONE_AGENTS:
        space = agent_param_space(name)
        assert len(space) > 0 and all(p.kind in ("int", "float") for p in space)
        agent = create_agent(name, **space.defaults())
        assert agent.name == name
    assert set(AGENTS) == set(STANDALONE_AGENTS) | {"strategy"}


def test_create_agent_applies_and_validates_params():
    agent = create_agent("momentum", rsi_period=10, oversold=25.0)
    assert isinstance(agent, MomentumAgent) and agent.rsi_period == 10 and agent.oversold == 25.0
    with pytest.raises(ParameterError) as bad:
        create_agent("momentum", rsi_period=1, colour="red")
    assert set(bad.value.errors) == {"rsi_period", "colour"}
    with pytest.raises(ParameterError) as crossed:
        create_agent("momentum", macd_fast=30, macd_slow=20)
    assert "macd_fast" in crossed.value.errors
    with pytest.raises(KeyError, match="unknown agent"):
        create_agent("astrology")


def test_default_agents_take_per_agent_params():
    agents = default_agents({"volatility": {"bb_period": 30}})
    assert [a.name for a in agents] == list(STANDALONE_AGENTS)
    assert agents[0].params["bb_period"] == 30
    with pytest.raises(KeyError):
        default_agents({"nope": {}})


class TestStrategyAgent:
    def test_an_entry_at_the_last_bar_votes_buy_with_the_strategy_confidence_and_trail(self):
        # given a flat market that jumps over its average at the last bar
        bars = bars_from_closes(list(zigzag_closes(60)) + [103.0])
        agent = create_agent(
            "strategy", strategy=CloseAboveAverage(), strategy_params={"period": 5}
        )
        # when
        signal = agent.analyze(MarketSnapshot(bars))
        # then
        assert agent.name == "strategy:close_above_average"
        assert signal.action is AgentAction.TRAIL_BUY
        assert signal.confidence == 0.65 and signal.trail_distance == 0.03

    def test_an_exit_votes_sell_and_nothing_abstains(self):
        agent = StrategyAgent(CloseAboveAverage(), {"period": 5}, confidence=0.5)
        drop = bars_from_closes(list(drifting_closes(60, 5.0)) + [90.0])
        assert agent.analyze(MarketSnapshot(drop)).action is AgentAction.TRAIL_SELL
        quiet = agent.analyze(MarketSnapshot(bars_from_closes(drifting_closes(60, 5.0))))
        assert quiet.action is AgentAction.HOLD and quiet.confidence == 0.0

    def test_strategy_params_are_validated_by_the_strategy_space(self):
        with pytest.raises(ParameterError) as bad:
            StrategyAgent(CloseAboveAverage(), {"period": 1000})
        assert "period" in bad.value.errors
        with pytest.raises(ParameterError, match="strategy"):
            create_agent("strategy")

    def test_only_the_window_is_handed_to_the_strategy(self):
        seen: list[int] = []

        class Recording(CloseAboveAverage):
            def signals(self, bars: Bars, params: Mapping[str, Any]) -> Signals:
                seen.append(len(bars))
                return super().signals(bars, params)

        agent = StrategyAgent(Recording(), window_bars=100)
        agent.analyze(MarketSnapshot(bars_from_closes(zigzag_closes(500))))
        assert seen == [100]
