"""All agents and the orchestrator over a quarter of real BTC 1h bars."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from tests.market_data import load_bars, load_funding
from trading.engine.agents import AgentAction, AgentSignal, MarketSnapshot, default_agents
from trading.engine.agents.base import MAX_TRAIL, MIN_TRAIL
from trading.engine.market import Bars
from trading.engine.orchestrator import Orchestrator

WINDOW = 500
STEP = 5


def four_hour(bars: Bars) -> Bars:
    """1h bars aggregated to 4h (the quarter used here has no gaps)."""
    n = len(bars) // 4 * 4
    shape = (-1, 4)
    return Bars.from_arrays(
        bars.timestamps[:n:4],
        bars.open[:n:4],
        bars.high[:n].reshape(shape).max(axis=1),
        bars.low[:n].reshape(shape).min(axis=1),
        bars.close[3:n:4],
        bars.volume[:n].reshape(shape).sum(axis=1),
        symbol=bars.symbol,
        timeframe="4h",
    )


@pytest.fixture(scope="module")
def snapshots() -> list[MarketSnapshot]:
    btc = load_bars("BTCUSDT", "1h", start="2022-01-01", end="2022-04-01")
    eth = load_bars("ETHUSDT", "1h", start="2022-01-01", end="2022-04-01")
    assert np.array_equal(btc.timestamps, eth.timestamps)
    funding_ts, funding = load_funding("BTCUSDT")
    htf = four_hour(btc)
    out = []
    for end in range(WINDOW, len(btc) + 1, STEP):
        window = btc.slice(end - WINDOW, end)
        closed_at = int(window.timestamps[-1]) + 3_600_000
        known = funding[funding_ts < closed_at][-90:]
        htf_end = int(np.searchsorted(htf.timestamps, closed_at - 4 * 3_600_000, side="right"))
        out.append(
            MarketSnapshot(
                window,
                higher_timeframe=htf.slice(max(0, htf_end - 200), htf_end),
                peers={"ETHUSDT": eth.slice(end - WINDOW, end)},
                funding_rates=known,
            )
        )
    return out


def test_every_agent_gives_valid_signals_on_real_data(snapshots):
    # given ~330 real 500-bar windows with a 4h timeframe, ETH as a peer and funding rates
    actions: Counter[tuple[str, AgentAction]] = Counter()
    agents = default_agents()
    # when every agent analyses every window
    for snapshot in snapshots:
        for agent in agents:
            signal = agent.analyze(snapshot)
            # then each signal is well formed
            assert isinstance(signal, AgentSignal) and signal.agent == agent.name
            assert 0.0 <= signal.confidence <= 1.0 and math.isfinite(signal.confidence)
            assert MIN_TRAIL <= signal.trail_distance <= MAX_TRAIL
            assert signal.reasoning
            actions[(agent.name, signal.action)] += 1
    # and the directional agents both buy and sell over a quarter of real trading
    for name in ("volatility", "momentum", "volume_profile", "market_structure", "regime"):
        assert actions[(name, AgentAction.TRAIL_BUY)] > 0, name
        assert actions[(name, AgentAction.TRAIL_SELL)] > 0, name
    assert actions[("correlation", AgentAction.HOLD)] < len(snapshots)


def test_the_orchestrator_votes_on_every_real_window_without_exclusions(snapshots):
    orchestrator = Orchestrator(default_agents(), budget_s=1.0)
    consensus_actions = Counter()
    for snapshot in snapshots:
        vote = orchestrator.vote(snapshot)
        assert vote.excluded == ()
        assert 0.0 <= vote.consensus.confidence <= 1.0
        assert 0.0 <= vote.consensus.disagreement <= 1.0
        consensus_actions[vote.consensus.action] += 1
    assert len(consensus_actions) == 3
