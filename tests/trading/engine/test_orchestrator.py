"""The orchestrator: budgets, failures, per-session weights and accuracy-driven weights."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import pytest

from tests.trading.engine.agent_series import bars_from_closes, zigzag_closes
from trading.engine.agents import AgentAction, AgentSignal, MarketSnapshot
from trading.engine.consensus import WeightPolicy
from trading.engine.orchestrator import Orchestrator

BUY, SELL, HOLD = AgentAction.TRAIL_BUY, AgentAction.TRAIL_SELL, AgentAction.HOLD
SNAPSHOT = MarketSnapshot(bars_from_closes(zigzag_closes(50), symbol="BTCUSDT"))


class FakeTimer:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FixedAgent:
    """Always gives the same vote; counts its calls."""

    name: str
    action: AgentAction = BUY
    confidence: float = 0.6
    calls: int = 0

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        self.calls += 1
        return AgentSignal(self.name, self.action, self.confidence, 0.02, "fixed vote")


@dataclass
class SlowAgent:
    """Takes `seconds` on the fake timer before answering."""

    name: str
    timer: FakeTimer
    seconds: float

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        self.timer.now += self.seconds
        return AgentSignal(self.name, SELL, 1.0, 0.02, "late but sure")


@dataclass
class BrokenAgent:
    name: str = "broken"

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        raise RuntimeError("indicator blew up")


@dataclass
class WrongTypeAgent:
    name: str = "wrong_type"

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        return "BUY"  # type: ignore[return-value]


@dataclass
class BlockingAgent:
    """Hangs until released (a stuck network call, an endless loop)."""

    name: str = "hung"
    release: threading.Event = field(default_factory=threading.Event)

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        self.release.wait(10)
        return AgentSignal(self.name, SELL, 1.0, 0.02, "finally")


def test_a_failing_agent_is_excluded_and_logged_but_the_vote_completes(caplog):
    # given two healthy buyers and an agent that raises
    orchestrator = Orchestrator([FixedAgent("a"), BrokenAgent(), FixedAgent("b")])
    # when
    with caplog.at_level(logging.WARNING, logger="trading.engine.orchestrator"):
        vote = orchestrator.vote(SNAPSHOT)
    # then the vote is made by the others and the failure is recorded with its reason
    assert [s.agent for s in vote.signals] == ["a", "b"]
    assert vote.consensus.action is BUY
    [excluded] = vote.excluded
    assert excluded.agent == "broken"
    assert excluded.reason == "error: RuntimeError: indicator blew up"
    assert "broken" in caplog.text and "indicator blew up" in caplog.text


def test_a_slow_agent_is_excluded_deterministically_with_an_injected_timer():
    # given a budget of 50 ms and an agent that takes 2 s of (fake) time, past its first call
    timer = FakeTimer()
    slow = SlowAgent("slow", timer, seconds=2.0)
    orchestrator = Orchestrator([FixedAgent("a"), slow], budget_s=0.05, timer=timer)
    orchestrator.vote(SNAPSHOT)
    # when
    vote = orchestrator.vote(SNAPSHOT)
    # then its (very sure) sell is discarded and the buyer decides
    assert vote.consensus.action is BUY
    assert vote.excluded[0].agent == "slow"
    assert vote.excluded[0].reason == "over budget: took 2000.0 ms, budget 50.0 ms"
    assert vote.elapsed_s == {"a": 0.0, "slow": 2.0}


def test_an_agents_first_call_has_no_budget():
    # given an agent whose first call pays 2 s of one-off costs (JIT compilation) and then 10 ms
    timer = FakeTimer()
    slow = SlowAgent("jit", timer, seconds=2.0)
    orchestrator = Orchestrator([FixedAgent("a"), slow], budget_s=0.05, timer=timer)
    # when it votes the first time, its sell counts although it was slow
    first = orchestrator.vote(SNAPSHOT)
    assert first.excluded == () and first.elapsed_s["jit"] == 2.0
    assert first.signal_of("jit") is not None
    # and when it is quick afterwards, it keeps counting
    slow.seconds = 0.01
    assert orchestrator.vote(SNAPSHOT).excluded == ()
    # but a later slow call is held to the budget
    slow.seconds = 0.06
    assert [e.agent for e in orchestrator.vote(SNAPSHOT).excluded] == ["jit"]


def test_an_agent_within_budget_counts():
    timer = FakeTimer()
    orchestrator = Orchestrator([SlowAgent("quick", timer, 0.01)], budget_s=0.05, timer=timer)
    vote = orchestrator.vote(SNAPSHOT)
    assert vote.excluded == () and vote.consensus.action is SELL


def test_a_malformed_answer_is_excluded():
    vote = Orchestrator([WrongTypeAgent(), FixedAgent("a")]).vote(SNAPSHOT)
    assert vote.excluded[0].reason == "invalid signal: returned str"


def test_guarded_mode_stops_waiting_for_a_hung_agent():
    # given an agent that hangs, run on worker threads with a 300 ms deadline
    hung = BlockingAgent()
    orchestrator = Orchestrator([FixedAgent("a"), hung], hard_timeout_s=0.3, budget_s=5.0)
    try:
        # when two votes are taken while it hangs
        first = orchestrator.vote(SNAPSHOT)
        second = orchestrator.vote(SNAPSHOT)
        # then both complete without it: first timed out, then skipped as busy
        assert first.consensus.action is BUY and second.consensus.action is BUY
        assert first.excluded[0].reason.startswith("timed out")
        assert second.excluded[0].reason.startswith("busy")
        # and once it returns it votes again
        hung.release.set()
        for _ in range(200):
            third = orchestrator.vote(SNAPSHOT)
            if not third.excluded:
                break
        assert [s.agent for s in third.signals] == ["a", "hung"]
    finally:
        hung.release.set()
        orchestrator.close()


def test_disabled_agents_are_not_run_and_can_be_enabled_again():
    a, b = FixedAgent("a"), FixedAgent("b", SELL, 0.9)
    orchestrator = Orchestrator([a, b], enabled=["a"])
    assert orchestrator.vote(SNAPSHOT).consensus.action is BUY
    assert b.calls == 0
    orchestrator.enable("b")
    assert orchestrator.vote(SNAPSHOT).consensus.action is SELL
    orchestrator.disable("b")
    assert set(orchestrator.weights) == {"a"}


def test_session_weights_change_the_outcome():
    agents = [FixedAgent("a", BUY, 0.6), FixedAgent("b", SELL, 0.6)]
    orchestrator = Orchestrator(agents, weights={"a": 3.0, "b": 1.0})
    assert orchestrator.vote(SNAPSHOT).consensus.action is BUY
    orchestrator.set_weights({"b": 9.0})
    vote = orchestrator.vote(SNAPSHOT)
    assert vote.consensus.action is SELL
    assert sum(vote.weights.values()) == pytest.approx(1.0)


def test_weights_move_toward_the_accurate_agent():
    # given a buyer and a seller with equal weights, in a market that keeps rising
    policy = WeightPolicy(floor=0.1, ceiling=0.9, max_step=0.05)
    orchestrator = Orchestrator([FixedAgent("bull"), FixedAgent("bear", SELL)], policy=policy)
    history = [dict(orchestrator.weights)]
    # when 30 outcomes are recorded
    for _ in range(30):
        vote = orchestrator.vote(SNAPSHOT)
        orchestrator.record_vote_outcome(vote, realized_return=0.01)
        history.append(dict(orchestrator.weights))
    # then the accurate agent gained weight, in bounded steps, within the bounds
    final = history[-1]
    assert final["bull"] > 0.75 and final["bear"] >= 0.1 - 1e-12
    assert sum(final.values()) == pytest.approx(1.0)
    for before, after in zip(history, history[1:], strict=False):
        assert abs(after["bull"] - before["bull"]) <= 0.05 + 1e-12
    assert orchestrator.accuracy["bull"].hit_rate > 0.9
    assert orchestrator.accuracy["bear"].hit_rate < 0.1


def test_abstentions_are_not_scored():
    orchestrator = Orchestrator([FixedAgent("quiet", HOLD, 0.0)])
    orchestrator.record_vote_outcome(orchestrator.vote(SNAPSHOT), 0.05)
    assert "quiet" not in orchestrator.accuracy


def test_configuration_errors_are_refused():
    with pytest.raises(ValueError, match="unique"):
        Orchestrator([FixedAgent("a"), FixedAgent("a")])
    with pytest.raises(KeyError, match="unknown agents"):
        Orchestrator([FixedAgent("a")], weights={"zzz": 1.0})
    with pytest.raises(KeyError):
        Orchestrator([FixedAgent("a")]).disable("zzz")


def test_vote_is_json_ready():
    import json

    vote = Orchestrator([FixedAgent("a"), BrokenAgent()]).vote(SNAPSHOT)
    data = json.loads(json.dumps(vote.as_dict()))
    assert data["symbol"] == "BTCUSDT" and data["consensus"]["action"] == "TRAIL_BUY"
    assert data["excluded"][0]["agent"] == "broken"


def test_state_survives_a_checkpoint_round_trip():
    import json

    # given an orchestrator that has learned something and has a disabled agent
    agents = [FixedAgent("bull"), FixedAgent("bear", SELL), FixedAgent("idle")]
    first = Orchestrator(agents, weights={"idle": 2.0})
    for _ in range(10):
        first.record_vote_outcome(first.vote(SNAPSHOT), realized_return=0.01)
    first.disable("idle")
    # when its state goes through JSON into a fresh orchestrator (a restarted worker)
    state = json.loads(json.dumps(first.export_state()))
    second = Orchestrator([FixedAgent("bull"), FixedAgent("bear", SELL), FixedAgent("idle")])
    second.restore_state(state)
    # then it carries on exactly where the first stopped
    assert dict(second.weights) == pytest.approx(dict(first.weights))
    assert second.enabled == first.enabled == {"bull", "bear"}
    assert second.accuracy == first.accuracy
    first.record_vote_outcome(first.vote(SNAPSHOT), 0.01)
    second.record_vote_outcome(second.vote(SNAPSHOT), 0.01)
    assert dict(second.weights) == pytest.approx(dict(first.weights))
