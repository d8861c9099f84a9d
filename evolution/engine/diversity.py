"""How different genomes are: the genotypic distance and a population's diversity.

Guarantees:
- `genome_distance(a, b)` is in [0, 1], symmetric, 0 exactly when the genes
  are equal: the mean over the four slots of the slot distance, where a slot
  with different seeds (or a block on one side only) counts 1 and a slot with
  the same seed counts the mean over its parameters of |a - b| / range (on
  the log axis for log-scale parameters; 0 or 1 for categoricals and bools);
- `Diversity.of(genomes)` reports the share of distinct genomes and the mean
  pairwise distance, both in [0, 1] (1 for a population of one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from evolution.engine.genome import SLOTS, Block, Genome
from trading.engine.strategy import Param


def parameter_distance(param: Param, a: Any, b: Any) -> float:
    """|a - b| over the parameter's range (log axis when log-scale); 0/1 for choices."""
    if param.kind in ("bool", "categorical"):
        return 0.0 if a == b else 1.0
    assert param.low is not None and param.high is not None
    if param.high == param.low:
        return 0.0
    if param.log:
        span = math.log(param.high) - math.log(param.low)
        return abs(math.log(a) - math.log(b)) / span
    return abs(float(a) - float(b)) / (param.high - param.low)


def block_distance(a: Block | None, b: Block | None) -> float:
    if a is None and b is None:
        return 0.0
    if a is None or b is None or a.seed != b.seed:
        return 1.0
    params = list(a.strategy.param_space)
    if not params:
        return 0.0
    total = sum(parameter_distance(p, a.params[p.name], b.params[p.name]) for p in params)
    return min(total / len(params), 1.0)


def genome_distance(a: Genome, b: Genome) -> float:
    return sum(block_distance(a.block(s), b.block(s)) for s in SLOTS) / len(SLOTS)


@dataclass(frozen=True)
class Diversity:
    """A population's diversity: distinct share and mean pairwise genotypic distance."""

    unique_ratio: float
    mean_distance: float

    @classmethod
    def of(cls, genomes: Sequence[Genome]) -> Diversity:
        if len(genomes) < 2:
            return cls(1.0, 1.0)
        unique = len({g.genes_hash for g in genomes}) / len(genomes)
        distances = [genome_distance(a, b) for a, b in combinations(genomes, 2)]
        return cls(unique, sum(distances) / len(distances))

    def collapsed(self, min_unique: float, min_distance: float) -> bool:
        return self.unique_ratio < min_unique or self.mean_distance < min_distance

    def as_dict(self) -> dict[str, float]:
        return {"unique_ratio": self.unique_ratio, "mean_distance": self.mean_distance}
