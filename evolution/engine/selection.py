"""NSGA-II selection (DEAP) over evaluations, elitism, and the hall of fame.

Guarantees:
- selection is deterministic: the same evaluations in the same order give the
  same survivors (DEAP's `selNSGA2` draws no random numbers);
- NSGA-II ranks on the run's chosen objectives (`objectives`, names of
  `OBJECTIVE_NAMES`, all four by default) with their directions from
  `OBJECTIVE_WEIGHTS`; the combined score is not one of them: it only protects
  the elite and orders the "best" table;
- `select_survivors` keeps the `elite` best valid evaluations by combined
  score whatever NSGA-II decides, so the best combined score of a population
  never falls from one generation to the next;
- the hall of fame holds only valid evaluations: the Pareto front of every
  valid genome seen (thinned by crowding distance beyond `pareto_limit`) and
  the `best_limit` best by combined score, each genome once.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deap import base, tools

from evolution.engine.evaluation import Evaluation
from evolution.engine.objectives import OBJECTIVE_NAMES, OBJECTIVE_WEIGHTS

Names = tuple[str, ...]


class ObjectivesFitness(base.Fitness):
    """DEAP fitness over (sharpe, consistency, max_drawdown, turnover)."""

    weights = OBJECTIVE_WEIGHTS


def check_objectives(objectives: Sequence[str]) -> Names:
    """The objectives NSGA-II ranks on, in `OBJECTIVE_NAMES` order; ValueError for none,
    an unknown name or a repeated one."""
    names = tuple(objectives)
    unknown = [n for n in names if n not in OBJECTIVE_NAMES]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(f"objectives must be distinct names among {', '.join(OBJECTIVE_NAMES)}"
                         f" (at least one), got {list(names)}")
    return tuple(n for n in OBJECTIVE_NAMES if n in names)


@functools.cache
def fitness_class(objectives: Names) -> type[base.Fitness]:
    """A DEAP fitness over the objectives, each with its direction."""
    if objectives == OBJECTIVE_NAMES:
        return ObjectivesFitness
    weights = tuple(OBJECTIVE_WEIGHTS[OBJECTIVE_NAMES.index(n)] for n in objectives)
    return type("Fitness_" + "_".join(objectives), (base.Fitness,), {"weights": weights})


class Candidate:
    """An evaluation as DEAP sees an individual (it reads `.fitness`)."""

    __slots__ = ("evaluation", "fitness")

    def __init__(self, evaluation: Evaluation, objectives: Names = OBJECTIVE_NAMES):
        self.evaluation = evaluation
        values = evaluation.objectives.as_dict()
        self.fitness = fitness_class(objectives)(tuple(values[n] for n in objectives))


def candidates(evaluations: Sequence[Evaluation],
               objectives: Names = OBJECTIVE_NAMES) -> list[Candidate]:
    return [Candidate(e, objectives) for e in evaluations]


def ranks_and_crowding(evaluations: Sequence[Evaluation],
                       objectives: Names = OBJECTIVE_NAMES) -> list[tuple[int, float]]:
    """(front number from 0, crowding distance within the front) of each evaluation."""
    members = candidates(evaluations, objectives)
    fronts = tools.sortNondominated(members, len(members))
    rank: dict[int, tuple[int, float]] = {}
    for number, front in enumerate(fronts):
        tools.emo.assignCrowdingDist(front)
        for member in front:
            rank[id(member)] = (number, float(member.fitness.crowding_dist))
    return [rank[id(m)] for m in members]


def best_by_combined(evaluations: Sequence[Evaluation], count: int) -> list[Evaluation]:
    """The `count` valid evaluations with the highest combined score (ties: earliest first)."""
    valid = [e for e in evaluations if e.ok]
    return sorted(valid, key=lambda e: -e.objectives.combined)[:count]


def distinct(evaluations: Sequence[Evaluation]) -> list[Evaluation]:
    """Each genome's first evaluation only."""
    seen: set[str] = set()
    out = []
    for e in evaluations:
        if e.genome.genes_hash not in seen:
            seen.add(e.genome.genes_hash)
            out.append(e)
    return out


def select_survivors(pool: Sequence[Evaluation], k: int, elite: int,
                     objectives: Names = OBJECTIVE_NAMES) -> list[Evaluation]:
    """NSGA-II's `k` survivors of `pool`, with the `elite` best by combined score kept."""
    if k >= len(pool):
        return list(pool)
    chosen = [c.evaluation for c in tools.selNSGA2(candidates(pool, objectives), k)]
    kept = {id(e) for e in chosen}
    protected = best_by_combined(pool, min(elite, k))
    protected_ids = {id(e) for e in protected}
    missing = [e for e in protected if id(e) not in kept]
    for position in range(len(chosen) - 1, -1, -1):
        if not missing:
            break
        if id(chosen[position]) not in protected_ids:
            chosen[position] = missing.pop(0)
    return chosen


def pareto_front(evaluations: Sequence[Evaluation], limit: int,
                 objectives: Names = OBJECTIVE_NAMES) -> list[Evaluation]:
    """The non-dominated valid evaluations, thinned to `limit` by crowding distance."""
    valid = distinct([e for e in evaluations if e.ok])
    if not valid:
        return []
    front = tools.sortNondominated(candidates(valid, objectives), len(valid),
                                   first_front_only=True)[0]
    if len(front) > limit:
        front = tools.selNSGA2(front, limit)
    return [c.evaluation for c in front]


@dataclass(frozen=True)
class HallOfFame:
    """The Pareto front of all valid genomes seen, and the best by combined score."""

    pareto: tuple[Evaluation, ...] = ()
    best: tuple[Evaluation, ...] = ()
    pareto_limit: int = 100
    best_limit: int = 10
    objectives: Names = OBJECTIVE_NAMES  # what "non-dominated" is judged on

    def updated(self, evaluations: Sequence[Evaluation]) -> HallOfFame:
        lean = [e.without_returns() for e in evaluations if e.ok]
        return HallOfFame(
            pareto=tuple(pareto_front([*self.pareto, *lean], self.pareto_limit,
                                      self.objectives)),
            best=tuple(best_by_combined(distinct([*self.best, *lean]), self.best_limit)),
            pareto_limit=self.pareto_limit,
            best_limit=self.best_limit,
            objectives=self.objectives,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "pareto": [e.to_dict() for e in self.pareto],
            "best": [e.to_dict() for e in self.best],
            "pareto_limit": self.pareto_limit,
            "best_limit": self.best_limit,
            "objectives": list(self.objectives),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HallOfFame:
        return cls(
            pareto=tuple(Evaluation.from_dict(e) for e in data.get("pareto", ())),
            best=tuple(Evaluation.from_dict(e) for e in data.get("best", ())),
            pareto_limit=int(data.get("pareto_limit", 100)),
            best_limit=int(data.get("best_limit", 10)),
            objectives=check_objectives(data.get("objectives", OBJECTIVE_NAMES)),
        )


__all__ = [
    "Candidate",
    "HallOfFame",
    "ObjectivesFitness",
    "check_objectives",
    "fitness_class",
    "best_by_combined",
    "distinct",
    "pareto_front",
    "ranks_and_crowding",
    "select_survivors",
]
