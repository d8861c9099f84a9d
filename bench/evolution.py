"""Genome evaluations per second, beside a fused-numba floor measured in the same run.

A population of 100 random genomes is evaluated on one year of 1h bars of
BTC, ETH and SOL (2022, 8,760 bars each) exactly as a GA generation is:
signals of every block on every instrument, the lookahead gate, the
simulation with fees and slippage, objectives and the ledger's daily returns.
Random genomes with every cache of the process cleared first ("cold": the
first generation of a run); then the generations a GA breeds from them, where
children share blocks with their parents and the per-process block signals
and lookahead checks are reused ("bred").

The floor is the fastest possible evaluation of the simplest genome: the
fused-numba SMA crossover of `bench/backtests.py` (rolling means, signals,
next-open fills with costs, equity and summary in one compiled pass per
parameter set), run here on the same three instruments. Target: our evaluation
within 10x of it, counting indicator work. The ML seeds (walk-forward sklearn
refits, ~0.2-0.4 s a call) are reported on their own, as they are bounded by
model fitting, not by the engine. A breakdown by stage says where the time goes.

    .venv/bin/python bench/evolution.py              # 100 genomes, best of 3
    .venv/bin/python bench/evolution.py --quick      # 30 genomes, 1 repeat
    .venv/bin/python bench/evolution.py --processes 2  # also 2 worker processes vs 1
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.backtests import CASH, FEE, SLIPPAGE, fused_floor  # noqa: E402
from evolution.engine import evaluation  # noqa: E402
from evolution.engine.datasets import (  # noqa: E402
    DATASETS,
    Dataset,
    DatasetSpec,
    csv_directory_loader,
)
from evolution.engine.evaluation import (  # noqa: E402
    Evaluation,
    EvaluationConfig,
    clear_lookahead_cache,
    evaluate_batch,
    evaluate_genomes,
)
from evolution.engine.ga import Evolution, GAConfig  # noqa: E402
from evolution.engine.genome import Genome  # noqa: E402
from evolution.engine.lookahead_gate import LOOKAHEAD_MEMORY  # noqa: E402
from evolution.engine.operators import GenomeSpace, random_genome  # noqa: E402
from evolution.engine.seeds import SEEDS  # noqa: E402
from evolution.engine.signal_store import DatasetSignals  # noqa: E402
from tests.market_data import data_dir  # noqa: E402
from trading.engine.market import Bars  # noqa: E402

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
START_MS, END_MS = 1_640_995_200_000, 1_672_531_200_000  # 2022-01-01 .. 2023-01-01 UTC
ML_SEEDS = ("linear_svc_classifier", "pca_tree_quantile")


def floor_seconds(dataset: Dataset, population: int, repeats: int) -> float:
    """Seconds for `population` SMA crossovers on every instrument with the fused floor of
    `bench/backtests.py` (indicators, signals, fills, costs, summary in one pass)."""
    rng = np.random.default_rng(0)
    fast = rng.integers(2, 50, population).astype(np.int64)
    slow = fast + rng.integers(5, 150, population).astype(np.int64)
    out = np.empty((population, 4))

    def run(bars: Bars, length: int) -> None:
        fused_floor(bars.open[:length], bars.close[:length], fast, slow, FEE, SLIPPAGE, CASH,
                    8760.0, out)

    run(dataset.bars[0], 300)  # compile (or load the cache) outside the timing
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for bars in dataset.bars:
            run(bars, len(bars))
        best = min(best, time.perf_counter() - start)
    return best


def genomes(space: GenomeSpace, count: int, seed: int) -> list[Genome]:
    rng = random.Random(seed)
    return [random_genome(space, rng) for _ in range(count)]


def evaluation_seconds(population: list[Genome], dataset: Dataset, repeats: int) -> float:
    """Seconds to evaluate the population with every cache cleared first (best of repeats)."""
    config = EvaluationConfig()
    evaluate_genomes(population[:2], dataset, config)  # imports and compiled code warm
    best = math.inf
    for _ in range(repeats):
        clear_lookahead_cache()
        start = time.perf_counter()
        results = evaluate_genomes(population, dataset, config)
        best = min(best, time.perf_counter() - start)
    failed = sum(1 for r in results if not r.ok)
    print(f"    ({failed} of {len(results)} genomes got the worst fitness: never traded etc.)")
    return best


def bred_seconds(space: GenomeSpace, dataset: Dataset, count: int, generations: int,
                 ) -> tuple[float, int]:
    """(seconds per generation, generations timed): a GA run from a cold start, timing the
    generations after the first (bred children; per-process caches as a run keeps them)."""
    config = EvaluationConfig()
    clear_lookahead_cache()
    run = Evolution(GAConfig(space=space, population=count, generations=generations, seed=7))
    times = []
    while not run.done:
        asked = run.ask()
        start = time.perf_counter()
        evaluations = evaluate_genomes(asked, dataset, config)
        times.append(time.perf_counter() - start)
        run.tell(evaluations)
    return sum(times[1:]) / len(times[1:]), len(times) - 1


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
    marks.append(clock())
    LOOKAHEAD_MEMORY.check_together(signals, population, len(signals.bars[0]) - 1)
    marks.append(clock())
    prepared = [evaluation._signals_or_reason(g, signals, config) for g in population]
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


def _worker_setup(directory: str, key: str, warm_up: list[dict]) -> None:
    """What a worker does once: load the dataset and warm compiled code up."""
    DATASETS.set_loader(csv_directory_loader(directory))
    evaluate_batch(warm_up, key, EvaluationConfig().as_dict())


def _worker_batch(payload: tuple[list[dict], str, dict]) -> float:
    """CPU seconds the worker spent on one JSON batch."""
    start = time.process_time()
    evaluate_batch(*payload)
    return time.process_time() - start


def process_seconds(
    population: list[Genome], key: str, workers: int, batches: int
) -> tuple[float, float]:
    """(wall seconds, worker CPU seconds) of the population in `batches` JSON batches."""
    rows = [g.to_dict() for g in population]
    size = math.ceil(len(rows) / batches)
    payloads = [(rows[i:i + size], key, EvaluationConfig().as_dict())
                for i in range(0, len(rows), size)]
    with ProcessPoolExecutor(workers, initializer=_worker_setup,
                             initargs=(str(data_dir()), key, rows[:2])) as pool:
        list(pool.map(_worker_batch, [([], key, EvaluationConfig().as_dict())] * workers))
        start = time.perf_counter()
        cpu = sum(pool.map(_worker_batch, payloads))
        return time.perf_counter() - start, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 genomes, one repeat")
    parser.add_argument("--processes", type=int, default=0,
                        help="also time N worker processes against 1 (JSON batches)")
    args = parser.parse_args()
    count, repeats = (30, 1) if args.quick else (100, 3)
    spec = DatasetSpec(SYMBOLS, "1h", START_MS, END_MS)
    dataset = csv_directory_loader(data_dir())(spec)
    print(f"data: {', '.join(SYMBOLS)} 1h 2022, {[len(b) for b in dataset.bars]} bars")

    floor = floor_seconds(dataset, count, 10)
    print(f"fused numba SMA-crossover floor: {count / floor:10.0f} genomes/s "
          f"({1000 * floor / count:.3f} ms per genome x 3 instruments)")

    fast_space = GenomeSpace.from_seeds([s for s in SEEDS if s not in ML_SEEDS])
    fast = evaluation_seconds(genomes(fast_space, count, 1), dataset, repeats)
    print(f"GA evaluation, 10 fast seeds, cold: {count / fast:8.1f} genomes/s "
          f"({1000 * fast / count:.2f} ms per genome) = {fast / floor:.1f}x the floor "
          f"(target <= 10x)")
    print_stages(stage_seconds(genomes(fast_space, count, 1), dataset), count, floor)
    bred, timed = bred_seconds(fast_space, dataset, count, 3 if args.quick else 6)
    print(f"GA evaluation, 10 fast seeds, bred: {count / bred:8.1f} genomes/s "
          f"({1000 * bred / count:.2f} ms per genome) = {bred / floor:.1f}x the floor "
          f"(mean of generations 1-{timed} of a run)")

    ema_space = GenomeSpace(entry_seeds=("ema_crossover",))
    simple = evaluation_seconds(genomes(ema_space, count, 2), dataset, repeats)
    print(f"GA evaluation, EMA crossover only, cold: {count / simple:8.1f} genomes/s = "
          f"{simple / floor:.1f}x the floor (like-for-like genome; target <= 10x)")
    print_stages(stage_seconds(genomes(ema_space, count, 2), dataset), count, floor)

    ml_count = 4 if args.quick else 10
    ml_space = GenomeSpace.from_seeds(ML_SEEDS, slot_probability=0.0)
    ml = evaluation_seconds(genomes(ml_space, ml_count, 3), dataset, 1)
    print(f"GA evaluation, ML seeds only:      {ml_count / ml:8.2f} genomes/s "
          f"({ml / ml_count:.2f} s per genome, model fitting bound)")

    if args.processes > 1:
        DATASETS.set_loader(csv_directory_loader(data_dir()))
        population = genomes(fast_space, 2 * count, 4)
        one, one_cpu = process_seconds(population, spec.key, 1, args.processes * 2)
        many, many_cpu = process_seconds(population, spec.key, args.processes,
                                         args.processes * 2)
        print(f"{args.processes} worker processes vs 1: {one / many:.2f}x "
              f"({one:.2f} s -> {many:.2f} s wall; dataset loaded once per worker)")
        print(f"    workers had the CPU {one_cpu / one:.0%} / "
              f"{many_cpu / (args.processes * many):.0%} of the wall time (the rest: other "
              f"load on the machine)")

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak_mb:.0f} MB (target per worker < 1 GB)")


if __name__ == "__main__":
    main()
