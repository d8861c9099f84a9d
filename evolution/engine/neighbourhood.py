"""Re-optimise an evolved genome's parameters in its neighbourhood (for walk-forward).

Guarantees: `NeighbourhoodOptimizer` is a `backtests.engine.optimizer.Optimizer`;
its candidates are the genome's own parameters first, then `neighbours`
parameter mutations of the genome (same seeds in the same slots, never a
structural change), drawn from a generator seeded by the genes hash, so the
candidates are the same on every call. They are scored in one batched backtest
(`run_batch`) on the train window only; a candidate with fewer than
`min_trades` trades or a NaN objective scores -inf; ties go to the earliest
candidate (the genome itself first).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtests.engine.backtest import run_batch
from backtests.engine.config import BacktestConfig
from backtests.engine.optimizer import OptimizationResult, Trial
from evolution.engine.genome import Genome
from evolution.engine.operators import GenomeSpace, mutate
from trading.engine.market import Bars
from trading.engine.strategy import Strategy


def prefixed_params(genome: Genome) -> dict[str, Any]:
    """The genome's parameters as its decoded strategy names them ('entry.period', ...)."""
    return {f"{b.role}.{name}": value for b in genome.blocks() for name, value in b.params.items()}


def _own_space(genome: Genome) -> GenomeSpace:
    return GenomeSpace(
        entry_seeds=(genome.entry.seed,),
        filter_seeds=() if genome.filter is None else (genome.filter.seed,),
        exit_seeds=() if genome.exit is None else (genome.exit.seed,),
        sizing_seeds=() if genome.sizing is None else (genome.sizing.seed,),
    )


@dataclass
class NeighbourhoodOptimizer:
    """Pick the best of the genome and a few parameter mutations of it on a train window."""

    genome: Genome
    neighbours: int = 6
    objective: str = "sharpe"
    min_trades: int = 1

    def candidates(self) -> list[dict[str, Any]]:
        rng = random.Random(int(self.genome.genes_hash[:16], 16))
        space = _own_space(self.genome)
        out = [prefixed_params(self.genome)]
        for _ in range(self.neighbours):
            mutant = mutate(self.genome, space, rng, structure_rate=0.0)
            out.append(prefixed_params(mutant))
        return out

    def optimize(
        self, bars: Bars, strategy: Strategy, config: BacktestConfig, *, start: int, end: int
    ) -> OptimizationResult:
        candidates = self.candidates()
        batch = run_batch(bars, strategy, candidates, config, start=start, end=end)
        values = batch.metric(self.objective)
        scores = np.where(np.isnan(values), -np.inf, values)
        scores = np.where(batch.metrics["trades"] >= self.min_trades, scores, -np.inf)
        trials = tuple(
            Trial(batch.params[i], float(scores[i]),
                  {k: float(v[i]) for k, v in batch.metrics.items()})
            for i in range(len(batch))
        )
        best = int(np.argmax(scores))
        return OptimizationResult(
            best_params=batch.params[best], best_score=float(scores[best]),
            objective=self.objective, trials=trials,
        )
