"""How a generation's genomes are cut into Celery tasks: balanced batches, heaviest first.

Why: a genome with a scikit-learn seed (walk-forward model refits) costs about a
hundred times a vectorised one, and a generation ends when its slowest task does.
Batches of equal count but unequal cost leave one worker busy while the others
wait; so genomes are dealt to batches by estimated cost (longest processing time
first, to the lightest batch with room), and the heaviest batches are sent first.

Guarantees: `balanced_batches` is deterministic, keeps every genome exactly once,
and never puts more than `batch_size` genomes in a batch (it makes
ceil(n / batch_size) batches). Evaluation does not depend on batching, so the
collect step only has to put the evaluations back in the order `ask()` gave.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from evolution.engine.genome import SLOTS

# Relative cost of scoring a block of each seed (bench/evolution.py: ML seeds ~0.6 s a
# genome, vectorised seeds ~5 ms); unlisted seeds cost 1.
SEED_COST: Mapping[str, float] = {"linear_svc_classifier": 100.0, "pca_tree_quantile": 100.0}


def genome_cost(genome: Mapping[str, Any]) -> float:
    """Estimated relative evaluation cost of a genome dict (`Genome.to_dict()`)."""
    blocks = [genome.get(slot) for slot in SLOTS]
    return 1.0 + sum(SEED_COST.get(b["seed"], 0.0) for b in blocks if b)


def balanced_batches(rows: Sequence[Mapping[str, Any]], batch_size: int
                     ) -> list[list[Mapping[str, Any]]]:
    """The genomes dealt into ceil(n / batch_size) batches of similar cost, heaviest first."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    count = math.ceil(len(rows) / batch_size)
    costs = [genome_cost(r) for r in rows]
    batches: list[list[int]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for i in sorted(range(len(rows)), key=lambda i: (-costs[i], i)):
        target = min((k for k in range(count) if len(batches[k]) < batch_size),
                     key=lambda k: (loads[k], k))
        batches[target].append(i)
        loads[target] += costs[i]
    order = sorted(range(count), key=lambda k: (-loads[k], k))
    return [[rows[i] for i in sorted(batches[k])] for k in order]
