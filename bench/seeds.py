"""Speed of the 12 strategy seeds: ms per `signals()` call on one year of BTC 1h bars.

For each seed it times `signals()` with default parameters (best and median
wall clock, median process CPU time of N calls) and with N random points of its
parameter space (what a GA evaluates; median CPU), and prints the best wall time
as a multiple of a baseline measured in the same run: one EMA(20) over the same
closes (a seed's unit of indicator work). The ML seeds (walk-forward refits of
small sklearn models) are checked against a 300 ms CPU budget.

    .venv/bin/python bench/seeds.py          # 2022, 8,760 bars, 7 calls each
    .venv/bin/python bench/seeds.py --quick  # 3 calls each
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evolution.engine.seeds import SEEDS  # noqa: E402
from tests.evolution.engine.seed_fixtures import random_params, real_bars  # noqa: E402
from trading.engine.indicators import ema  # noqa: E402

ML_BUDGET_MS = 300.0
ML_SEEDS = ("linear_svc_classifier", "pca_tree_quantile")


def timings(call: Callable[[], object], repeats: int) -> tuple[list[float], list[float]]:
    """(wall-clock ms, process CPU ms) of `repeats` calls after one warm-up call.

    CPU time is what a call costs this process; on a shared machine the wall
    clock also counts the time other processes held the cores.
    """
    call()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.process_time() - start_cpu) * 1000.0)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 calls per figure")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    bars = real_bars(start="2022-01-01", end="2023-01-01")
    baseline = min(timings(functools.partial(ema, bars.close, 20), 50)[0])
    print(f"bars: {len(bars)} (BTCUSDT 1h 2022); baseline EMA(20): {baseline:.3f} ms wall")
    print(
        f"{'seed':24s} {'wall best':>10s} {'wall med':>9s} {'cpu med':>8s} "
        f"{'random cpu':>10s} {'x EMA':>8s}"
    )
    rng = np.random.default_rng(0)
    for name, seed in SEEDS.items():
        wall, cpu = timings(functools.partial(seed.signals, bars, {}), repeats)
        genomes = [random_params(seed.param_space, rng) for _ in range(repeats)]
        random_cpu = statistics.median(
            timings(functools.partial(seed.signals, bars, p), 1)[1][0] for p in genomes
        )
        flag = ""
        if name in ML_SEEDS:
            worst = max(statistics.median(cpu), random_cpu)
            flag = "  ok" if worst <= ML_BUDGET_MS else f"  OVER {ML_BUDGET_MS:.0f} ms budget"
        print(
            f"{name:24s} {min(wall):10.2f} {statistics.median(wall):9.2f} "
            f"{statistics.median(cpu):8.2f} {random_cpu:10.2f} "
            f"{min(wall) / baseline:8.1f}{flag}"
        )


if __name__ == "__main__":
    main()
