"""Weighted consensus, disagreement and bounded weight adaptation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.engine.agents import AgentAction, AgentSignal
from trading.engine.consensus import (
    AccuracyRecord,
    WeightPolicy,
    adapt_weights,
    bounded_weights,
    signal_was_right,
    weighted_consensus,
)

BUY, SELL, HOLD = AgentAction.TRAIL_BUY, AgentAction.TRAIL_SELL, AgentAction.HOLD


def vote(agent: str, action: AgentAction, confidence: float, trail: float = 0.02) -> AgentSignal:
    return AgentSignal(agent, action, confidence, trail, f"{agent} says {action.value}")


def test_unanimous_agents_agree_with_more_confidence_than_each_alone():
    # given three agents buying at 0.6
    signals = [vote("a", BUY, 0.6), vote("b", BUY, 0.6), vote("c", BUY, 0.6)]
    # when
    result = weighted_consensus(signals, {"a": 1, "b": 1, "c": 1})
    # then
    assert result.action is BUY
    assert result.disagreement == 0.0 and result.conflict == 0.0
    # base 0.6, doubt shrinks by (1 - 1/3) / 2
    assert result.confidence == pytest.approx(0.6 + 0.4 * (1 - 1 / 3) / 2)


def test_a_lone_voter_keeps_its_confidence_and_abstainers_do_not_dilute():
    signals = [vote("a", BUY, 0.8), vote("b", HOLD, 0.0), vote("c", HOLD, 0.0)]
    result = weighted_consensus(signals, {"a": 1, "b": 1, "c": 1})
    assert result.action is BUY and result.confidence == pytest.approx(0.8)
    assert result.participants == ("a",) and result.abstained == ("b", "c")


def test_equal_opposing_votes_tie_to_hold_with_full_conflict():
    signals = [vote("a", BUY, 0.7), vote("b", SELL, 0.7)]
    result = weighted_consensus(signals, {"a": 1, "b": 1})
    assert result.action is HOLD and result.confidence == 0.0
    assert result.conflict == pytest.approx(1.0)
    assert result.disagreement == pytest.approx(math.log(2) / math.log(3))
    assert "conflict" in result.reasoning


def test_weights_decide_between_opposing_agents():
    signals = [vote("a", BUY, 0.6), vote("b", SELL, 0.9)]
    assert weighted_consensus(signals, {"a": 3, "b": 1}).action is BUY
    assert weighted_consensus(signals, {"a": 1, "b": 3}).action is SELL


def test_opposition_lowers_confidence_and_raises_disagreement():
    alone = weighted_consensus([vote("a", BUY, 0.8), vote("b", BUY, 0.8)], {"a": 1, "b": 1})
    opposed = weighted_consensus(
        [vote("a", BUY, 0.8), vote("b", BUY, 0.8), vote("c", SELL, 0.8)], {"a": 1, "b": 1, "c": 1}
    )
    assert opposed.action is BUY
    assert opposed.confidence < alone.confidence
    assert opposed.disagreement > alone.disagreement


def test_zero_weight_agents_abstain_and_nobody_voting_is_hold():
    result = weighted_consensus([vote("a", BUY, 0.9)], {"a": 0.0})
    assert result.action is HOLD and result.confidence == 0.0 and result.abstained == ("a",)
    assert weighted_consensus([], {}).participants == ()


def test_trail_is_the_conviction_weighted_trail_of_the_winners():
    signals = [vote("a", BUY, 0.5, 0.01), vote("b", BUY, 1.0, 0.04), vote("c", SELL, 0.2, 0.09)]
    result = weighted_consensus(signals, {"a": 1, "b": 1, "c": 1})
    assert result.trail_distance == pytest.approx((0.5 * 0.01 + 1.0 * 0.04) / 1.5)


signal_lists = st.lists(
    st.tuples(st.sampled_from([BUY, SELL, HOLD]), st.floats(0, 1), st.floats(0, 5)),
    min_size=1,
    max_size=9,
)


@settings(max_examples=80, deadline=None)
@given(signal_lists)
def test_consensus_invariants(rows):
    # given any signals and non-negative weights
    signals = [vote(f"a{i}", action, conf) for i, (action, conf, _) in enumerate(rows)]
    weights = {f"a{i}": w for i, (_, _, w) in enumerate(rows)}
    # when
    result = weighted_consensus(signals, weights)
    # then the outputs stay in range and the winner has the most weighted conviction
    assert 0.0 <= result.confidence <= 1.0
    assert 0.0 <= result.disagreement <= 1.0 + 1e-12 and 0.0 <= result.conflict <= 1.0
    if result.participants:
        assert sum(result.conviction.values()) == pytest.approx(1.0)
        if result.action is not HOLD:
            assert result.conviction[result.action.value] == max(result.conviction.values())
    assert set(result.participants) | set(result.abstained) == set(weights)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.floats(0, 10), min_size=1, max_size=12),
    st.floats(0, 0.2),
    st.floats(0.2, 1.0),
)
def test_bounded_weights_sum_to_one_within_bounds(raw, floor, ceiling):
    weights = bounded_weights({f"a{i}": w for i, w in enumerate(raw)}, floor, ceiling)
    n = len(raw)
    assert sum(weights.values()) == pytest.approx(1.0)
    low, high = min(floor, 1 / n), max(ceiling, 1 / n)
    assert all(low - 1e-9 <= w <= high + 1e-9 for w in weights.values())


def test_adaptation_moves_at_most_one_step_toward_the_accurate_agent():
    # given equal weights and one agent right every time, one wrong every time
    policy = WeightPolicy(max_step=0.05, learning_rate=1.0, floor=0.05, ceiling=0.95)
    current = {"good": 0.5, "bad": 0.5}
    accuracy = {"good": AccuracyRecord(1.0, 10), "bad": AccuracyRecord(0.0, 10)}
    # when one update is applied
    updated = adapt_weights(current, current, accuracy, policy)
    # then the accurate agent gains exactly the step limit
    assert updated["good"] == pytest.approx(0.55) and updated["bad"] == pytest.approx(0.45)


def test_agents_without_enough_outcomes_keep_their_base_weight():
    policy = WeightPolicy(min_outcomes=5)
    accuracy = {"a": AccuracyRecord(1.0, 4), "b": AccuracyRecord(0.0, 4)}
    updated = adapt_weights({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.5}, accuracy, policy)
    assert updated == pytest.approx({"a": 0.5, "b": 0.5})


def test_how_signals_are_scored():
    assert signal_was_right(vote("a", BUY, 0.5), 0.01, 0.002)
    assert not signal_was_right(vote("a", BUY, 0.5), -0.01, 0.002)
    assert signal_was_right(vote("a", SELL, 0.5), -0.01, 0.002)
    assert signal_was_right(vote("a", HOLD, 0.5), 0.001, 0.002)
    assert not signal_was_right(vote("a", HOLD, 0.5), 0.05, 0.002)


def test_policy_refuses_impossible_bounds():
    with pytest.raises(ValueError):
        WeightPolicy(floor=0.5, ceiling=0.4)
