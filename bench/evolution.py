"""Genome evaluations per second, beside a fused-numba floor measured in the same run.

A population of 100 genomes is evaluated on one year of 1h bars of BTC, ETH
and SOL (2022, 8,760 bars each) exactly as a GA generation is: signals of
every block on every instrument, the lookahead gate, the simulation with fees
and slippage, objectives and the ledger's daily returns. "Bred": the
generations of a GA run once it has settled (from generation 3 of 10), where
children share blocks with their parents and the per-process block signals,
indicator rows and lookahead checks are reused, as in a worker through a run. "Cold": a first
generation of random genomes with every cache of the process cleared.

The floor is the fastest possible evaluation of the simplest genome: the
fused-numba SMA crossover of `bench/backtests.py` (rolling means, signals,
next-open fills with costs, equity and summary in one compiled pass per
parameter set), run here on the same three instruments. Target: our evaluation
within 10x of it, counting indicator work. This machine's speed drifts by tens
of percent from minute to minute, so the floor is timed again right before
every evaluation it is compared with, and the median ratio is reported. The ML
seeds (walk-forward sklearn refits, ~0.2-0.4 s a call) are reported on their
own, as they are bounded by model fitting, not by the engine. A breakdown by
stage says where the time goes. The process keeps the memory it frees, as the
Celery workers do (`organism.allocator`).

    .venv/bin/python bench/evolution.py              # 100 genomes, 5 rounds
    .venv/bin/python bench/evolution.py --quick      # 30 genomes, 2 rounds

The speed-up of a generation with 2 Celery workers against 1, and the memory
of a worker, are measured on the production path by `bench/evolution_workers.py`.
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.backtests import CASH, FEE, SLIPPAGE, fused_floor  # noqa: E402
from evolution.engine import evaluation  # noqa: E402
from evolution.engine.datasets import (  # noqa: E402
    Dataset,
    DatasetSpec,
    csv_directory_loader,
)
from evolution.engine.evaluation import (  # noqa: E402
    Evaluation,
    EvaluationConfig,
    clear_lookahead_cache,
    evaluate_genomes,
)
from evolution.engine.ga import Evolution, GAConfig  # noqa: E402
from evolution.engine.genome import Genome  # noqa: E402
from evolution.engine.lookahead_gate import LOOKAHEAD_MEMORY  # noqa: E402
from evolution.engine.operators import GenomeSpace, random_genome  # noqa: E402
from evolution.engine.seeds import SEEDS  # noqa: E402
from evolution.engine.signal_store import DatasetSignals  # noqa: E402
from organism.allocator import keep_freed_memory  # noqa: E402
from tests.market_data import data_dir  # noqa: E402
from trading.engine.market import Bars  # noqa: E402

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
START_MS, END_MS = 1_640_995_200_000, 1_672_531_200_000  # 2022-01-01 .. 2023-01-01 UTC
ML_SEEDS = ("linear_svc_classifier", "pca_tree_quantile")


class Floor:
    """The fused-numba SMA crossover of `bench/backtests.py` for `population` parameter sets
    on every instrument (indicators, signals, fills, costs, summary in one pass each)."""

    def __init__(self, dataset: Dataset, population: int):
        rng = np.random.default_rng(0)
        self.dataset = dataset
        self.fast = rng.integers(2, 50, population).astype(np.int64)
        self.slow = self.fast + rng.integers(5, 150, population).astype(np.int64)
        self.out = np.empty((population, 4))
        self._run(dataset.bars[0], 300)  # compile (or load the cache) outside the timing

    def _run(self, bars: Bars, length: int) -> None:
        fused_floor(bars.open[:length], bars.close[:length], self.fast, self.slow, FEE,
                    SLIPPAGE, CASH, 8760.0, self.out)

    def seconds(self, runs: int = 3) -> float:
        """Best of `runs` passes over every instrument."""
        best = math.inf
        for _ in range(runs):
            start = time.perf_counter()
            for bars in self.dataset.bars:
                self._run(bars, len(bars))
            best = min(best, time.perf_counter() - start)
        return best


def genomes(space: GenomeSpace, count: int, seed: int) -> list[Genome]:
    rng = random.Random(seed)
    return [random_genome(space, rng) for _ in range(count)]


def cold_ratios(population: list[Genome], dataset: Dataset, floor: Floor, rounds: int,
                ) -> tuple[list[float], list[float]]:
    """(seconds, seconds / floor) of evaluating the population with every cache cleared
    first, per round; the floor is timed right before each round (this machine's speed
    drifts, so a ratio is only fair between figures taken together)."""
    config = EvaluationConfig()
    evaluate_genomes(population[:2], dataset, config)  # imports and compiled code warm
    seconds, ratios = [], []
    for _ in range(rounds):
        base = floor.seconds()
        clear_lookahead_cache()
        start = time.perf_counter()
        results = evaluate_genomes(population, dataset, config)
        seconds.append(time.perf_counter() - start)
        ratios.append(seconds[-1] / base)
    failed = sum(1 for r in results if not r.ok)
    print(f"    ({failed} of {len(results)} genomes got the worst fitness: never traded etc.)")
    return seconds, ratios


def bred_ratios(space: GenomeSpace, dataset: Dataset, count: int, generations: int,
                floor: Floor, settled: int) -> tuple[list[float], list[float]]:
    """(seconds, seconds / floor) per generation of a GA run from a cold start, for the
    generations from `settled` on (bred children; the process's caches and heap as a
    worker keeps them through a run), each beside the floor timed just before it."""
    config = EvaluationConfig()
    clear_lookahead_cache()
    run = Evolution(GAConfig(space=space, population=count, generations=generations, seed=7))
    seconds, ratios = [], []
    while not run.done:
        asked = run.ask()
        base = floor.seconds()
        start = time.perf_counter()
        evaluations = evaluate_genomes(asked, dataset, config)
        if run.generation >= settled:
            seconds.append(time.perf_counter() - start)
            ratios.append(seconds[-1] / base)
        run.tell(evaluations)
    return seconds, ratios


def stage_seconds(population: list[Genome], dataset: Dataset) -> dict[str, float]:
    """The steps of `evaluate_genomes`, timed one by one from cold (and checked to give its
    evaluations): block signals, the lookahead gate (the last-bar cut all genomes share,
    then each genome's aimed cuts), the simulation and the scoring."""
    config = EvaluationConfig()
    clear_lookahead_cache()
    expected = [e.to_dict() for e in evaluate_genomes(population, dataset, config)]
    clear_lookahead_cache()
    clock = time.perf_counter
    marks = [clock()]
    signals = DatasetSignals(dataset)
    signals.prefetch(population)
    per_asset = [evaluation._genome_signals(g, signals) for g in population]
    marks.append(clock())
    LOOKAHEAD_MEMORY.check_together(signals, population, len(signals.bars[0]) - 1)
    marks.append(clock())
    evaluation.check_lookahead_together(population, signals, per_asset, config)
    prepared = [s if isinstance(s, str) else evaluation._checked(g, signals, s, config)
                for g, s in zip(population, per_asset, strict=True)]
    marks.append(clock())
    runnable = {i: p for i, p in enumerate(prepared) if not isinstance(p, str)}
    batches = [evaluation.simulate_batch(bars, window, [p[a] for p in runnable.values()],
                                         config.backtest)
               for a, (bars, window) in enumerate(zip(dataset.bars, dataset.windows,
                                                      strict=True))]
    marks.append(clock())
    scored: list[Evaluation] = evaluation._evaluations([population[i] for i in runnable],
                                                       dataset, batches, config)
    marks.append(clock())
    done = iter(scored)
    results = [evaluation.failed(g, p) if isinstance(p, str) else next(done)
               for g, p in zip(population, prepared, strict=True)]
    if [e.to_dict() for e in results] != expected:
        raise AssertionError("the timed steps no longer give evaluate_genomes' results")
    names = ("block signals", "lookahead: last-bar cut", "lookahead: aimed cuts",
             "simulation", "scoring")
    spans = [b - a for a, b in zip(marks[:-1], marks[1:], strict=True)]
    return dict(zip(names, spans, strict=True))


def print_stages(stages: dict[str, float], count: int, floor: float) -> None:
    total = sum(stages.values())
    print("    where the time goes (one cold run): " + ", ".join(
        f"{name} {1000 * s / count:.2f} ms ({s / floor:.1f}x floor)"
        for name, s in stages.items()) + f"; total {total / floor:.1f}x")


def report(label: str, count: int, seconds: list[float], ratios: list[float], note: str,
           ) -> None:
    middle = statistics.median(seconds)
    print(f"{label}: {count / middle:8.1f} genomes/s ({1000 * middle / count:.2f} ms per "
          f"genome) = {statistics.median(ratios):.1f}x the floor (median of {len(ratios)}; "
          f"range {min(ratios):.1f}-{max(ratios):.1f}x) {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 genomes, fewer rounds")
    args = parser.parse_args()
    count, rounds, generations = (30, 2, 4) if args.quick else (100, 5, 10)
    kept = keep_freed_memory()  # as every Celery worker does when it starts
    print(f"allocator: freed memory kept for reuse, as in the workers: {kept}")
    spec = DatasetSpec(SYMBOLS, "1h", START_MS, END_MS)
    dataset = csv_directory_loader(data_dir())(spec)
    print(f"data: {', '.join(SYMBOLS)} 1h 2022, {[len(b) for b in dataset.bars]} bars")

    floor = Floor(dataset, count)
    base = floor.seconds(10)
    print(f"fused numba SMA-crossover floor: {count / base:10.0f} genomes/s "
          f"({1000 * base / count:.3f} ms per genome x 3 instruments)")

    fast_space = GenomeSpace.from_seeds([s for s in SEEDS if s not in ML_SEEDS])
    settled = 2 if args.quick else 3
    seconds, ratios = bred_ratios(fast_space, dataset, count, generations, floor, settled)
    report("GA evaluation, 10 fast seeds, bred", count, seconds, ratios,
           f"(generations {settled}-{generations - 1} of a run; target <= 10x)")
    seconds, ratios = cold_ratios(genomes(fast_space, count, 1), dataset, floor, rounds)
    report("GA evaluation, 10 fast seeds, cold", count, seconds, ratios,
           "(a first generation, every cache cleared; target <= 10x)")
    print_stages(stage_seconds(genomes(fast_space, count, 1), dataset), count,
                 floor.seconds())

    ema_space = GenomeSpace(entry_seeds=("ema_crossover",))
    seconds, ratios = cold_ratios(genomes(ema_space, count, 2), dataset, floor, rounds)
    report("GA evaluation, EMA crossover only, cold", count, seconds, ratios,
           "(like-for-like genome)")
    print_stages(stage_seconds(genomes(ema_space, count, 2), dataset), count,
                 floor.seconds())

    ml_count = 4 if args.quick else 10
    ml_space = GenomeSpace.from_seeds(ML_SEEDS, slot_probability=0.0)
    seconds, _ = cold_ratios(genomes(ml_space, ml_count, 3), dataset, floor, 1)
    print(f"GA evaluation, ML seeds only:      {ml_count / seconds[0]:8.2f} genomes/s "
          f"({seconds[0] / ml_count:.2f} s per genome, model fitting bound)")

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak_mb:.0f} MB (target per worker < 1 GB)")


if __name__ == "__main__":
    main()
