"""Speed-up of one GA generation with 2 Celery worker processes versus 1, and memory per worker.

What runs is the production path: a throwaway PostgreSQL database
(`organism_bench_evo`, created, loaded with the real BTC/ETH/SOL 1h candles and the
perpetuals' funding rates through the import services, and dropped at the end), the
real Redis broker and result backend (a database index of its own), and
`celery -A organism worker -Q evolution -c 1` subprocesses. A run of one generation
(population 100 of all 12 seeds, one year of in-sample 1h bars x 3 instruments) is
created by `evolution_run_create`; its genomes are fanned out as `evolution.evaluate_batch`
tasks and collected by `evolution.collect_generation`. The generation's time is the
stored `GenerationStat.duration_ms` (dispatch to collect); wall time to completion is
printed too. Every measurement starts fresh workers (no per-process lookahead verdicts
cached) and warms them on other genomes, so each has loaded the dataset and its
compiled kernels once, as long-lived workers have; 1-worker and 2-worker generations
of the same genomes are paired and their order alternates, since other jobs share
this machine's 2 cores (the load average is printed). Workers run with one BLAS/numba
thread each (one process per core). Memory per worker is the peak resident set
(VmHWM) of its processes.

    .venv/bin/python bench/evolution_workers.py            # population 100, all seeds
    .venv/bin/python bench/evolution_workers.py --quick    # population 40, fast seeds
Targets: speed-up >= 1.7x on this 2-core machine; < 1 GB per worker.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DB_NAME = "organism_bench_evo"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/12"
SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
# One year in sample: 2022; out-of-sample and walk-forward follow (60/20/20 of the range).
START = datetime(2022, 1, 1, tzinfo=UTC)
END = datetime(2023, 8, 31, 8, tzinfo=UTC)
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
FAST_SEEDS = ["ema_crossover", "donchian_breakout", "rsi_filter", "stochastic_oscillator",
              "sma_trend_filter", "atr_stop_loss", "ichimoku_cloud", "vwap_reversion",
              "volatility_scaling", "funding_rate_carry"]

os.environ.update({"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                   "ORGANISM_CHANNEL_PREFIX": "benchevo",
                   "DJANGO_SETTINGS_MODULE": "organism.settings", **ONE_THREAD})


def database_create() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def database_drop() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def market_data_load(data_dir: Path) -> list[int]:
    from trading.services.candles import candles_import, funding_import

    ids = []
    for symbol in SYMBOLS:
        stem = symbol.replace("/", "").lower()
        report = candles_import(path=data_dir / f"binance_{stem}_1h.csv.gz", exchange="binance",
                                symbol=symbol, timeframe="1h")
        ids.append(report.instrument_id)
        funding = data_dir / f"binance_{stem}_perp_funding_8h.csv.gz"
        if funding.exists():
            funding_import(path=funding, exchange="binance", symbol=symbol)
    return ids


class Workers:
    """`count` Celery worker processes on the evolution queue (started and stopped by us)."""

    def __init__(self, count: int):
        self.count = count
        self.procs: list[subprocess.Popen] = []
        self.logs = [tempfile.TemporaryFile() for _ in range(count)]  # noqa: SIM115 - closed in __exit__

    def __enter__(self) -> Workers:
        env = {**os.environ, "ORGANISM_LOG_LEVEL": "WARNING"}
        for i, log in enumerate(self.logs):
            # output goes to a file: a pipe nobody reads would block a chatty worker
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "organism", "worker", "-Q", "evolution",
                 "-c", "1", "-n", f"benchevo{i}@%h", "--without-gossip", "--without-mingle",
                 "-l", "WARNING"],
                cwd=REPO, env=env, start_new_session=True, stdout=log, stderr=log))
        self._wait_ready()
        return self

    def log_tail(self, index: int) -> str:
        log = self.logs[index]
        log.seek(0)
        return log.read().decode(errors="replace")[-2000:]

    def _wait_ready(self, timeout: float = 90.0) -> None:
        from organism.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0)
            if len(replies) >= self.count:
                return
            for index, proc in enumerate(self.procs):
                if proc.poll() is not None:
                    raise RuntimeError(f"a worker exited: {self.log_tail(index)}")
        raise RuntimeError("the workers did not answer a ping in time")

    def _trees(self) -> list[list]:
        import psutil

        trees = []
        for proc in self.procs:
            parent = psutil.Process(proc.pid)
            trees.append([parent, *parent.children(recursive=True)])
        return trees

    def peak_rss_mb(self) -> list[float]:
        """Per worker: the largest peak resident set among its processes (parent, pool child)."""
        return [max(_vm_hwm_kb(p.pid) for p in tree) / 1024 for tree in self._trees()]

    def cpu_seconds(self) -> float:
        """CPU time used so far by every process of every worker."""
        return sum(sum(p.cpu_times()[:2]) for tree in self._trees() for p in tree)

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the group we started for this worker
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in self.logs:
            log.close()


def _vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def one_generation(ids: list[int], *, seed: int, population: int, seeds: list[str] | None,
                   batch_size: int, timeout: float = 1800.0) -> tuple[float, float]:
    """(generation seconds as stored, wall seconds to a completed run)."""
    from evolution.models import EvolutionRun, GenerationStat
    from evolution.services import evolution_run_create

    started = time.perf_counter()
    run = evolution_run_create(user=None, name=f"bench seed {seed}", instrument_ids=ids,
                               timeframe="1h", start=START, end=END, population=population,
                               generations=1, random_seed=seed, seeds=seeds,
                               batch_size=batch_size, validate_top=0, hall_of_fame_size=10)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, error = EvolutionRun.objects.values_list("status", "error_message").get(pk=run.pk)
        if status in EvolutionRun.FINISHED:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError(f"run {run.pk} did not finish in {timeout:.0f}s")
    if status != "completed":
        raise RuntimeError(f"run {run.pk} {status}: {error}")
    wall = time.perf_counter() - started
    stat = GenerationStat.objects.get(run=run)
    return stat.duration_ms / 1000, wall


@dataclass
class Measurement:
    workers: int
    seed: int
    generation_s: float
    wall_s: float
    cpu_s: float
    load: float
    rss_mb: list[float]


def wait_for_quiet(limit: float, patience: float) -> None:
    """Wait (at most `patience` seconds) until the 1-minute load average is below `limit`."""
    deadline = time.monotonic() + patience
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)


def measure(ids: list[int], workers: int, seed: int, args: argparse.Namespace) -> Measurement:
    """Fresh workers (cold per-process caches), warmed on other genomes, then one generation."""
    options = {"seeds": args.seeds, "batch_size": args.batch_size}
    wait_for_quiet(args.quiet_load, args.quiet_wait)
    with Workers(workers) as pool:
        # warm-up: every worker loads the dataset and the compiled kernels once
        one_generation(ids, seed=10_000 + seed, population=max(8 * workers, 20), **options)
        cpu_before = pool.cpu_seconds()
        generation, wall = one_generation(ids, seed=seed, population=args.population, **options)
        cpu = pool.cpu_seconds() - cpu_before
        rss = pool.peak_rss_mb()
    return Measurement(workers, seed, generation, wall, cpu, os.getloadavg()[0], rss)


def report(results: list[Measurement]) -> None:
    for m in results:
        print(f"  {m.workers} worker(s), seed {m.seed}: generation {m.generation_s:6.2f}s "
              f"(run wall {m.wall_s:6.2f}s), worker CPU {m.cpu_s:6.2f}s, load avg {m.load:.1f}, "
              f"peak RSS " + ", ".join(f"{mb:.0f} MB" for mb in m.rss_mb))
    one = [m for m in results if m.workers == 1]
    two = [m for m in results if m.workers == 2]
    ratios = [a.generation_s / b.generation_s for a, b in zip(one, two, strict=True)]
    total = sum(m.generation_s for m in one) / sum(m.generation_s for m in two)
    busy = {n: sum(m.cpu_s for m in ms) / sum(m.generation_s for m in ms)
            for n, ms in ((1, one), (2, two))}
    print(f"speed-up 2 workers vs 1: {total:.2f}x over {len(ratios)} paired generations "
          f"(per pair: {', '.join(f'{r:.2f}x' for r in ratios)}; target >= 1.7x)")
    print(f"cores the workers kept busy during a generation: 1 worker {busy[1]:.2f}, "
          f"2 workers {busy[2]:.2f} (the 2 cores are shared with other jobs: load average "
          f"{sum(m.load for m in results) / len(results):.1f}); worker CPU per generation: "
          f"1 worker {sum(m.cpu_s for m in one) / len(one):.1f}s, "
          f"2 workers {sum(m.cpu_s for m in two) / len(two):.1f}s")
    worst = max(mb for m in results for mb in m.rss_mb)
    print(f"largest worker peak RSS: {worst:.0f} MB (target < 1024 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="population 40 of the 10 fast seeds, one timed generation")
    parser.add_argument("--population", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3,
                        help="paired generations (1 worker, 2 workers) to average")
    parser.add_argument("--quiet-load", type=float, default=1.5,
                        help="before each measurement, wait for a 1-minute load average below")
    parser.add_argument("--quiet-wait", type=float, default=90.0,
                        help="... for at most this many seconds")
    args = parser.parse_args()
    args.seeds = None
    if args.quick:
        args.population, args.seeds, args.repeats = 40, FAST_SEEDS, 2

    import django

    database_create()
    try:
        django.setup()
        from django.core.management import call_command

        from organism.celery import app
        from tests.market_data import data_dir

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        ids = market_data_load(data_dir())
        print(f"bench database {DB_NAME}: {', '.join(SYMBOLS)} 1h + funding loaded in "
              f"{time.perf_counter() - started:.1f}s; in-sample {START:%Y-%m-%d}.. (1 year), "
              f"population {args.population} ({'10 fast seeds' if args.seeds else 'all 12 seeds'}"
              f"), batches of {args.batch_size}, Redis {REDIS_URL}")
        app.control.purge()
        results = []
        for repeat in range(args.repeats):
            # the same genomes for both configurations; the order alternates against drift
            order = (1, 2) if repeat % 2 == 0 else (2, 1)
            results += [measure(ids, n, 42 + repeat, args) for n in order]
        report(results)
        app.control.purge()
    finally:
        database_drop()


if __name__ == "__main__":
    main()
