"""Runs the agents on each snapshot and turns their signals into one vote.

Guarantees:
- A failing agent (exception, malformed signal) or a slow one (over the
  per-agent time budget) is excluded from that vote with a logged reason; the
  vote always completes with the remaining agents.
- Inline mode (the default) runs agents one after another and measures each
  with the injected `timer`; a result that took longer than `budget_s` is
  discarded. With a fake timer this is fully deterministic. An agent's first
  call is held to no budget: it carries one-off costs (compiling or loading
  its numba kernels, filling its caches) that later calls do not pay.
- Guarded mode (`hard_timeout_s` set) runs each agent on its own daemon worker
  thread and stops waiting at the deadline, so an agent that hangs cannot stall
  the loop; while it is still stuck it is skipped as busy in later votes.
- Weights are per session: agents can be enabled, disabled and re-weighted;
  recorded outcomes update each agent's hit rate and move the weights by a
  bounded step (see `trading.engine.consensus.adapt_weights`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from trading.engine.agents.base import Agent, AgentSignal
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.consensus import (
    AccuracyRecord,
    Consensus,
    WeightPolicy,
    adapt_weights,
    normalise_weights,
    signal_was_right,
    weighted_consensus,
)

Timer = Callable[[], float]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentExclusion:
    """Why an agent's signal is missing from a vote."""

    agent: str
    reason: str
    elapsed_s: float

    def as_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "reason": self.reason, "elapsed_s": self.elapsed_s}


@dataclass(frozen=True)
class Vote:
    """Every agent's signal at one closed bar and the consensus built from them."""

    timestamp_ms: int
    symbol: str
    signals: tuple[AgentSignal, ...]
    excluded: tuple[AgentExclusion, ...]
    consensus: Consensus
    weights: Mapping[str, float]
    elapsed_s: Mapping[str, float]

    def signal_of(self, agent: str) -> AgentSignal | None:
        return next((s for s in self.signals if s.agent == agent), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "timestamp_ms": self.timestamp_ms,
            "symbol": self.symbol,
            "signals": [s.as_dict() for s in self.signals],
            "excluded": [e.as_dict() for e in self.excluded],
            "consensus": self.consensus.as_dict(),
            "weights": dict(self.weights),
            "elapsed_s": dict(self.elapsed_s),
        }


_Outcome = tuple[AgentSignal | None, AgentExclusion | None, float]


class _AgentWorker:
    """One daemon thread that runs one agent's calls in order."""

    def __init__(self, name: str, agent: Agent, timer: Timer):
        self._agent, self._timer = agent, timer
        self._calls: queue.SimpleQueue[tuple[MarketSnapshot, Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._last: Future[Any] | None = None
        self._thread = threading.Thread(target=self._serve, name=f"agent-{name}", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._last is not None and not self._last.done()

    def submit(self, market: MarketSnapshot) -> Future[Any]:
        future: Future[Any] = Future()
        self._last = future
        self._calls.put((market, future))
        return future

    def stop(self) -> None:
        self._calls.put(None)

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            market, future = call
            if not future.set_running_or_notify_cancel():
                continue
            start = self._timer()
            try:
                signal = self._agent.analyze(market)
            except Exception as exc:  # contained: a broken agent must not kill its worker
                future.set_result((exc, self._timer() - start))
            else:
                future.set_result((signal, self._timer() - start))


class Orchestrator:
    """Per-session agent runner with adaptive weights."""

    def __init__(
        self,
        agents: Sequence[Agent],
        *,
        weights: Mapping[str, float] | None = None,
        enabled: Iterable[str] | None = None,
        budget_s: float = 0.05,
        timer: Timer = time.perf_counter,
        hard_timeout_s: float | None = None,
        policy: WeightPolicy | None = None,
    ):
        names = [a.name for a in agents]
        if len(set(names)) != len(names):
            raise ValueError(f"agent names must be unique, got {names}")
        if budget_s <= 0 or (hard_timeout_s is not None and hard_timeout_s <= 0):
            raise ValueError("time budgets must be > 0")
        self._agents = {a.name: a for a in agents}
        self._budget_s, self._timer, self._hard_timeout_s = budget_s, timer, hard_timeout_s
        self.policy = policy or WeightPolicy()
        base = {n: 1.0 for n in names} | dict(weights or {})
        self._check_names(base)
        self._base = normalise_weights({n: float(base[n]) for n in names})
        self._current = dict(self._base)
        self._enabled = set(names if enabled is None else enabled)
        self._check_names(self._enabled)
        self._accuracy: dict[str, AccuracyRecord] = {}
        self._workers: dict[str, _AgentWorker] = {}
        self._answered: set[str] = set()  # agents past their first call, which has no budget

    # -- configuration -------------------------------------------------
    @property
    def agent_names(self) -> tuple[str, ...]:
        return tuple(self._agents)

    @property
    def enabled(self) -> frozenset[str]:
        return frozenset(self._enabled)

    @property
    def weights(self) -> Mapping[str, float]:
        """Current weights of the enabled agents, summing to 1."""
        active = {n: w for n, w in self._current.items() if n in self._enabled}
        return MappingProxyType(normalise_weights(active))

    @property
    def accuracy(self) -> Mapping[str, AccuracyRecord]:
        return MappingProxyType(dict(self._accuracy))

    def enable(self, name: str) -> None:
        self._check_names([name])
        self._enabled.add(name)

    def disable(self, name: str) -> None:
        self._check_names([name])
        self._enabled.discard(name)

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Operator weights for some agents; the others keep their share."""
        self._check_names(weights)
        base = dict(self._base) | {n: float(w) for n, w in weights.items()}
        current = dict(self._current) | {n: float(w) for n, w in weights.items()}
        self._base, self._current = normalise_weights(base), normalise_weights(current)

    def _check_names(self, names: Iterable[str]) -> None:
        unknown = sorted(set(names) - set(self._agents))
        if unknown:
            raise KeyError(f"unknown agents {unknown}; known: {sorted(self._agents)}")

    # -- voting ----------------------------------------------------------
    def vote(self, market: MarketSnapshot) -> Vote:
        """Run every enabled agent on `market` and combine the valid signals."""
        names = [n for n in self._agents if n in self._enabled]
        if self._hard_timeout_s is None:
            outcomes = {n: self._run_inline(n, market) for n in names}
        else:
            outcomes = self._run_guarded(names, market, self._hard_timeout_s)
        signals, excluded, elapsed = [], [], {}
        for name in names:
            signal, exclusion, seconds = outcomes[name]
            elapsed[name] = seconds
            if signal is not None:
                signals.append(signal)
            if exclusion is not None:
                excluded.append(exclusion)
                logger.warning(
                    "agent %s excluded from the vote on %s: %s",
                    name,
                    market.symbol,
                    exclusion.reason,
                    extra={"agent": name, "reason": exclusion.reason, "symbol": market.symbol},
                )
        weights = self.weights
        return Vote(
            timestamp_ms=market.timestamp_ms,
            symbol=market.symbol,
            signals=tuple(signals),
            excluded=tuple(excluded),
            consensus=weighted_consensus(signals, weights),
            weights=weights,
            elapsed_s=MappingProxyType(elapsed),
        )

    def _run_inline(self, name: str, market: MarketSnapshot) -> _Outcome:
        start = self._timer()
        try:
            result: object = self._agents[name].analyze(market)
        except Exception as exc:  # contained and reported: one agent never stops the loop
            result = exc
        return self._judge(name, result, self._timer() - start)

    def _run_guarded(
        self, names: Sequence[str], market: MarketSnapshot, timeout_s: float
    ) -> dict[str, _Outcome]:
        outcomes: dict[str, _Outcome] = {}
        futures: dict[str, Future[Any]] = {}
        for name in names:
            worker = self._workers.get(name)
            if worker is None:
                worker = self._workers[name] = _AgentWorker(name, self._agents[name], self._timer)
            if worker.busy:
                reason = "busy: its previous call has not returned"
                outcomes[name] = (None, AgentExclusion(name, reason, 0.0), 0.0)
            else:
                futures[name] = worker.submit(market)
        deadline = time.monotonic() + timeout_s
        for name, future in futures.items():
            try:
                result, seconds = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                reason = f"timed out: no answer within {timeout_s * 1000:.1f} ms"
                outcomes[name] = (None, AgentExclusion(name, reason, timeout_s), timeout_s)
            else:
                outcomes[name] = self._judge(name, result, seconds)
        return outcomes

    def _judge(self, name: str, result: object, seconds: float) -> _Outcome:
        first_call = name not in self._answered
        self._answered.add(name)
        if isinstance(result, Exception):
            reason = f"error: {type(result).__name__}: {result}"
            return None, AgentExclusion(name, reason, seconds), seconds
        if not isinstance(result, AgentSignal):
            reason = f"invalid signal: returned {type(result).__name__}"
            return None, AgentExclusion(name, reason, seconds), seconds
        if seconds > self._budget_s and not first_call:
            reason = (
                f"over budget: took {seconds * 1000:.1f} ms, budget {self._budget_s * 1000:.1f} ms"
            )
            return None, AgentExclusion(name, reason, seconds), seconds
        signal = result if result.agent == name else replace(result, agent=name)
        return signal, None, seconds

    def close(self) -> None:
        """Stop the guarded-mode worker threads (a hung one is left to die with the process)."""
        for worker in self._workers.values():
            worker.stop()
        self._workers.clear()

    # -- checkpoints ------------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        """JSON-ready weights, enabled set and hit rates, for a session checkpoint."""
        return {
            "base_weights": dict(self._base),
            "weights": dict(self._current),
            "enabled": sorted(self._enabled),
            "accuracy": {
                name: {"hit_rate": r.hit_rate, "outcomes": r.outcomes}
                for name, r in sorted(self._accuracy.items())
            },
        }

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Resume from `export_state()` output; agents no longer present are ignored."""
        known = set(self._agents)

        def present(values: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in values.items() if k in known}

        base = dict(self._base) | present(state["base_weights"])
        current = dict(self._current) | present(state["weights"])
        self._base = normalise_weights({k: float(v) for k, v in base.items()})
        self._current = normalise_weights({k: float(v) for k, v in current.items()})
        self._enabled = set(state["enabled"]) & known
        self._accuracy = {
            name: AccuracyRecord(float(r["hit_rate"]), int(r["outcomes"]))
            for name, r in present(state["accuracy"]).items()
        }

    # -- learning ---------------------------------------------------------
    def record_outcome(self, signal: AgentSignal, realized_return: float) -> None:
        """Score one agent signal against the return that followed it."""
        self._score(signal, realized_return)
        self._adapt()

    def record_vote_outcome(self, vote: Vote, realized_return: float) -> None:
        """Score every signal of `vote` against the return that followed it."""
        for signal in vote.signals:
            self._score(signal, realized_return)
        self._adapt()

    def _score(self, signal: AgentSignal, realized_return: float) -> None:
        if signal.agent not in self._agents or signal.confidence <= 0:
            return  # an abstention carries no call to score
        correct = signal_was_right(signal, realized_return, self.policy.hold_band)
        record = self._accuracy.get(signal.agent, AccuracyRecord())
        self._accuracy[signal.agent] = record.updated(correct, self.policy.alpha)

    def _adapt(self) -> None:
        self._current = adapt_weights(self._current, self._base, self._accuracy, self.policy)
