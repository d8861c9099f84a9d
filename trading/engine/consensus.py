"""Weighted consensus of agent signals, its disagreement, and accuracy-adapted weights.

Guarantees:
- `weighted_consensus` is a pure function of the signals and weights: the same
  inputs give the same `Consensus`. An agent with zero confidence or zero weight
  abstains (it neither votes nor dilutes the others). The winning action has
  the most weighted conviction (sum of weight x confidence); exact ties resolve
  to HOLD. Its confidence starts from the winners' weighted mean confidence
  times their share of all conviction (a lone voter against silence keeps its
  confidence; opposing voters cancel out), and agreement raises it: with k
  effective agreeing voters the remaining doubt shrinks by share x (1-1/k) / 2.
- `disagreement` is the normalised entropy of conviction over the three actions
  (0 = unanimous, 1 = evenly split); `conflict` measures buy-versus-sell
  opposition only (0 = none, 1 = equal conviction both ways).
- `adapt_weights` returns weights that sum to 1, each within [floor, ceiling]
  (when feasible), and moves every weight by at most `max_step` per update.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from trading.engine.agents.base import DEFAULT_TRAIL, AgentAction, AgentSignal

ACTIONS: tuple[AgentAction, ...] = (AgentAction.TRAIL_BUY, AgentAction.TRAIL_SELL, AgentAction.HOLD)


@dataclass(frozen=True)
class Consensus:
    """The agents' combined vote."""

    action: AgentAction
    confidence: float
    trail_distance: float
    disagreement: float
    conflict: float
    conviction: Mapping[str, float]  # share of weighted conviction per action, sums to 1
    participants: tuple[str, ...]
    abstained: tuple[str, ...]
    reasoning: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "confidence": self.confidence,
            "trail_distance": self.trail_distance,
            "disagreement": self.disagreement,
            "conflict": self.conflict,
            "conviction": dict(self.conviction),
            "participants": list(self.participants),
            "abstained": list(self.abstained),
            "reasoning": self.reasoning,
        }


def weighted_consensus(signals: Sequence[AgentSignal], weights: Mapping[str, float]) -> Consensus:
    """Combine `signals`; an agent missing from `weights` counts with weight 0."""
    voters = [s for s in signals if s.confidence > 0 and weights.get(s.agent, 0.0) > 0]
    abstained = tuple(
        s.agent for s in signals if s.confidence <= 0 or weights.get(s.agent, 0.0) <= 0
    )
    if not voters:
        return _no_opinion(abstained)
    mass = {a: 0.0 for a in ACTIONS}
    weight_for = {a: 0.0 for a in ACTIONS}
    for s in voters:
        w = float(weights[s.agent])
        mass[s.action] += w * s.confidence
        weight_for[s.action] += w
    total = sum(mass.values())
    if total <= 0:  # conviction so small it underflows: nobody really voted
        return _no_opinion(tuple(s.agent for s in signals))
    winner = _winner(mass)
    winners = [s for s in voters if s.action == winner]
    if winners:
        share = mass[winner] / total
        base = mass[winner] / weight_for[winner] * share
        confidence = min(1.0, base + (1.0 - base) * _agreement(winners, weights, share))
        trail = sum(weights[s.agent] * s.confidence * s.trail_distance for s in winners)
        trail /= mass[winner]
    else:
        confidence, trail = 0.0, DEFAULT_TRAIL
    shares = {a.value: mass[a] / total for a in ACTIONS}
    disagreement, conflict = _disagreement(mass), _conflict(mass)
    reasoning = _explain(winner, confidence, shares, conflict, voters)
    return Consensus(
        action=winner,
        confidence=confidence,
        trail_distance=trail,
        disagreement=disagreement,
        conflict=conflict,
        conviction=MappingProxyType(shares),
        participants=tuple(s.agent for s in voters),
        abstained=abstained,
        reasoning=reasoning,
    )


def _no_opinion(abstained: tuple[str, ...]) -> Consensus:
    return Consensus(
        action=AgentAction.HOLD,
        confidence=0.0,
        trail_distance=DEFAULT_TRAIL,
        disagreement=0.0,
        conflict=0.0,
        conviction=MappingProxyType({a.value: 0.0 for a in ACTIONS}),
        participants=(),
        abstained=abstained,
        reasoning="no agent voted with any confidence",
    )


def _agreement(winners: Sequence[AgentSignal], weights: Mapping[str, float], share: float) -> float:
    """Half the winners' share of conviction, scaled by how many agents really agree.

    With one effective voter there is no agreement bonus; with k equally sure
    voters the remaining doubt shrinks by share * (1 - 1/k) / 2.
    """
    masses = [weights[s.agent] * s.confidence for s in winners]
    largest = max(masses)
    if largest <= 0:
        return 0.0
    scaled = [m / largest for m in masses]  # scale-free, and safe from underflow
    effective = sum(scaled) ** 2 / sum(m * m for m in scaled)
    return 0.5 * share * (1.0 - 1.0 / effective)


def _winner(mass: Mapping[AgentAction, float]) -> AgentAction:
    best = max(mass.values())
    leaders = [a for a in ACTIONS if math.isclose(mass[a], best, rel_tol=1e-12, abs_tol=0.0)]
    return leaders[0] if len(leaders) == 1 else AgentAction.HOLD


def _disagreement(mass: Mapping[AgentAction, float]) -> float:
    total = sum(mass.values())
    entropy = -sum((m / total) * math.log(m / total) for m in mass.values() if m > 0)
    return min(1.0, entropy / math.log(len(ACTIONS)))


def _conflict(mass: Mapping[AgentAction, float]) -> float:
    buy, sell = mass[AgentAction.TRAIL_BUY], mass[AgentAction.TRAIL_SELL]
    return 2.0 * min(buy, sell) / (buy + sell) if buy + sell > 0 else 0.0


def _explain(
    winner: AgentAction,
    confidence: float,
    shares: Mapping[str, float],
    conflict: float,
    voters: Sequence[AgentSignal],
) -> str:
    split = ", ".join(f"{a.value} {shares[a.value]:.0%}" for a in ACTIONS)
    votes = ", ".join(f"{s.agent} {s.action.value} {s.confidence:.2f}" for s in voters)
    text = f"{winner.value} at {confidence:.2f}; conviction {split}; votes: {votes}"
    if conflict >= 0.5:
        text += f"; buy and sell conflict ({conflict:.2f})"
    return text


@dataclass(frozen=True)
class AccuracyRecord:
    """Exponentially weighted hit rate of one agent's directional calls."""

    hit_rate: float = 0.5
    outcomes: int = 0

    def updated(self, correct: bool, alpha: float) -> AccuracyRecord:
        hit = 1.0 if correct else 0.0
        return AccuracyRecord(self.hit_rate + alpha * (hit - self.hit_rate), self.outcomes + 1)


@dataclass(frozen=True)
class WeightPolicy:
    """How agent weights follow accuracy.

    `alpha` is the hit-rate smoothing; a 0.5 hit rate leaves an agent at its
    base weight, 1.0 multiplies it by 2**sharpness, 0.0 drives it to the floor.
    Agents with fewer than `min_outcomes` recorded outcomes keep a 0.5 hit rate.
    """

    alpha: float = 0.1
    learning_rate: float = 0.2
    max_step: float = 0.05
    floor: float = 0.02
    ceiling: float = 0.6
    sharpness: float = 2.0
    min_outcomes: int = 5
    hold_band: float = 0.002  # |return| under which HOLD counts as right

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1 or not 0 < self.learning_rate <= 1:
            raise ValueError("alpha and learning_rate must be in (0, 1]")
        if not 0 <= self.floor <= self.ceiling <= 1 or self.max_step <= 0:
            raise ValueError("need 0 <= floor <= ceiling <= 1 and max_step > 0")


def signal_was_right(signal: AgentSignal, realized_return: float, hold_band: float) -> bool:
    """BUY is right when the price rose, SELL when it fell, HOLD when it barely moved."""
    if signal.action is AgentAction.TRAIL_BUY:
        return realized_return > 0
    if signal.action is AgentAction.TRAIL_SELL:
        return realized_return < 0
    return abs(realized_return) <= hold_band


def normalise_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights scaled to sum to 1 (equal weights when all are zero); negatives refused."""
    if any(w < 0 or not math.isfinite(w) for w in weights.values()):
        raise ValueError(f"agent weights must be finite and >= 0, got {dict(weights)}")
    total = sum(weights.values())
    if total <= 0:
        return {k: 1.0 / len(weights) for k in weights} if weights else {}
    return {k: w / total for k, w in weights.items()}


def adapt_weights(
    current: Mapping[str, float],
    base: Mapping[str, float],
    accuracy: Mapping[str, AccuracyRecord],
    policy: WeightPolicy,
) -> dict[str, float]:
    """One bounded step of `current` toward base weights scaled by accuracy."""
    if not current:
        return {}
    target = {}
    for name in current:
        record = accuracy.get(name, AccuracyRecord())
        rate = record.hit_rate if record.outcomes >= policy.min_outcomes else 0.5
        target[name] = base.get(name, 0.0) * (2.0 * rate) ** policy.sharpness
    target = normalise_weights(target)
    moved = {}
    for name, w in current.items():
        step = policy.learning_rate * (target[name] - w)
        moved[name] = w + max(-policy.max_step, min(policy.max_step, step))
    return bounded_weights(moved, policy.floor, policy.ceiling)


def bounded_weights(weights: Mapping[str, float], floor: float, ceiling: float) -> dict[str, float]:
    """Normalised weights clamped into [floor, ceiling], mass redistributed proportionally.

    Bounds that cannot hold together (n * floor > 1 or n * ceiling < 1) are
    relaxed to 1/n so the result always sums to 1.
    """
    n = len(weights)
    if n == 0:
        return {}
    floor, ceiling = min(floor, 1.0 / n), max(ceiling, 1.0 / n)
    out = normalise_weights({k: max(0.0, w) for k, w in weights.items()})
    for _ in range(100):
        clamped = {k: min(ceiling, max(floor, w)) for k, w in out.items()}
        excess = 1.0 - sum(clamped.values())
        if abs(excess) < 1e-12:
            return clamped
        if excess > 0:
            adjustable = [k for k, w in clamped.items() if w < ceiling]
        else:
            adjustable = [k for k, w in clamped.items() if w > floor]
        share = sum(clamped[k] for k in adjustable)
        out = dict(clamped)
        for k in adjustable:
            portion = clamped[k] / share if share > 0 else 1.0 / len(adjustable)
            out[k] = clamped[k] + excess * portion
    return out
