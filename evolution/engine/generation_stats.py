"""Per-generation statistics of a GA run: what the convergence chart and the API show.

Guarantees: figures are computed over the valid members of the population that
survived the generation (failed genomes are counted, never averaged in);
"best" and "worst" follow each objective's direction (max drawdown and
turnover are best when lowest); an objective with no valid member is None;
`to_dict` is JSON-safe and `from_dict` reads it back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evolution.engine.diversity import Diversity
from evolution.engine.evaluation import Evaluation
from evolution.engine.objectives import OBJECTIVE_NAMES, OBJECTIVE_WEIGHTS

SCORED = (*OBJECTIVE_NAMES, "combined")
DIRECTION = {**dict(zip(OBJECTIVE_NAMES, OBJECTIVE_WEIGHTS, strict=True)), "combined": 1.0}


def reason_kind(reason: str) -> str:
    """'crashed', 'lookahead', 'never traded', 'too few trades', 'invalid genome'."""
    if reason.startswith("traded "):
        return "too few trades"
    return reason.split(":", 1)[0]


def objective_spread(values: Sequence[float], direction: float) -> dict[str, float | None]:
    if not values:
        return {"best": None, "median": None, "worst": None}
    ordered = sorted(values, reverse=direction > 0)
    return {
        "best": float(ordered[0]),
        "median": float(np.median(ordered)),
        "worst": float(ordered[-1]),
    }


@dataclass(frozen=True)
class GenerationStats:
    """Figures of one completed generation."""

    generation: int
    evaluated: int  # genomes evaluated in this generation
    failed: int  # of those, how many got the worst fitness
    failure_reasons: Mapping[str, int] = field(default_factory=dict)
    objectives: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    diversity: Diversity = Diversity(1.0, 1.0)
    reseeded: int = 0  # random immigrants that entered the population this generation
    reseed_next: int = 0  # immigrants due next generation (diversity collapsed)
    best_identity: str | None = None  # best combined score in the population

    @property
    def best_combined(self) -> float | None:
        return self.objectives.get("combined", {}).get("best")

    def to_dict(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "evaluated": self.evaluated,
            "failed": self.failed,
            "failure_reasons": dict(self.failure_reasons),
            "objectives": {k: dict(v) for k, v in self.objectives.items()},
            "diversity": self.diversity.as_dict(),
            "reseeded": self.reseeded,
            "reseed_next": self.reseed_next,
            "best_identity": self.best_identity,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationStats:
        values = dict(data)
        values["diversity"] = Diversity(**values["diversity"])
        return cls(**values)


def generation_stats(
    generation: int,
    evaluated: Sequence[Evaluation],
    population: Sequence[Evaluation],
    diversity: Diversity,
    *,
    reseeded: int,
    reseed_next: int,
) -> GenerationStats:
    valid = [e for e in population if e.ok]
    figures = {}
    for name in SCORED:
        values = [e.objectives.as_dict()[name] for e in valid]
        figures[name] = objective_spread(values, DIRECTION[name])
    best = max(valid, key=lambda e: e.objectives.combined, default=None)
    failures = [e.reason for e in evaluated if e.reason is not None]
    return GenerationStats(
        generation=generation,
        evaluated=len(evaluated),
        failed=len(failures),
        failure_reasons=dict(sorted(Counter(reason_kind(r) for r in failures).items())),
        objectives=figures,
        diversity=diversity,
        reseeded=reseeded,
        reseed_next=reseed_next,
        best_identity=None if best is None else best.genome.identity,
    )
