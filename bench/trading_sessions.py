"""Journaled paper sessions on PostgreSQL: per-candle latency and replay throughput.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/organism [REDIS_URL=redis://127.0.0.1:6379/0] \
        .venv/bin/python bench/trading_sessions.py [--quick]

Creates a throwaway database (organism_bench_trading, or ORGANISM_BENCH_DB) next to
the one DATABASE_URL names, migrates it, loads a year of real 1h BTC/USDT (2023;
a quarter with --quick) plus a month of warm-up, and measures in the same run:
- baseline: the bare kernel (every agent on, paper executor, no database) over
  the same candles, in candles/s;
- a journaled replay as fast as possible: `session_step` with 500 candles per
  step (claim, restore from the checkpoint, process, write the journal and the
  checkpoint in one transaction, release), in candles/s (target: >= 500);
- per closed candle: `session_step` with one candle per step, from the claim to
  the decision, the paper fill, the journal commit and the websocket publish
  (after commit, through the configured channel layer: Redis with REDIS_URL),
  p50 / p99 in ms (target: p99 < 20 ms).
Prints the figures and the ratios to the baseline, then drops the database.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WARM_UP_START = "2022-12-01"
START = "2023-01-01"


def _url(base_url: str, name: str) -> str:
    return urlunsplit(urlsplit(base_url)._replace(path=f"/{name}"))


def _admin(base_url: str, sql: str) -> None:
    with psycopg.connect(_url(base_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "organism.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import logging

    logging.getLogger("organism.trading").setLevel(logging.WARNING)  # keep the console quiet


def _load(end: str):
    from tests.factories import ExchangeFactory, InstrumentFactory, candles_create
    from tests.market_data import load_bars

    instrument = InstrumentFactory(exchange=ExchangeFactory(code="binance"), symbol="BTC/USDT",
                                   base="BTC", quote="USDT", tick_size="0.01",
                                   lot_size="0.00001", min_notional="5")
    bars = load_bars("BTCUSDT", "1h", start=WARM_UP_START, end=end)
    candles_create(instrument, bars)
    return instrument, bars


def _session(instrument, per_step: int):
    import pandas as pd

    from trading.services.sessions import session_create, session_start

    start_ms = pd.Timestamp(START, tz="UTC").value // 1_000_000
    session = session_create(name=f"bench {per_step}", instruments=[instrument], capital=10_000,
                             risk_profile="aggressive", replay_start_ms=start_ms,
                             candles_per_step=per_step)
    return session_start(session=session)


def _step(session_id: int):
    from trading.models import TradingSession
    from trading.services.session_loop import session_step

    TradingSession.objects.filter(pk=session_id).update(next_step_at=None)
    return session_step(session_id=session_id, worker="bench", schedule=False)


def _baseline(bars, start_index: int) -> tuple[int, float]:
    """The bare kernel with every agent over the same candles (candles, seconds)."""
    from trading.engine.kernel import KernelConfig, run_event_backtest
    from trading.engine.risk_profiles import MarketStats, RiskProfile

    bars = bars.__class__.from_arrays(bars.timestamps, bars.open, bars.high, bars.low,
                                      bars.close, bars.volume, symbol="BTC/USDT", timeframe="1h")
    stats = MarketStats.from_bars(bars.slice(0, start_index))
    profile = RiskProfile.derive("aggressive", 10_000.0, stats, symbols=["BTC/USDT"])
    config = KernelConfig(session_id="bench", symbols=("BTC/USDT",), timeframe="1h",
                          capital=10_000.0, profile=profile)
    result = run_event_backtest({"BTC/USDT": bars}, config, start=start_index, path=None,
                                keep_events=False)
    return result.candles, result.elapsed_s


def _throughput(instrument) -> tuple[int, float]:
    session = _session(instrument, per_step=500)
    candles, began = 0, time.perf_counter()
    while True:
        result = _step(session.pk)
        candles += result.candles
        if result.next_step_at is None:
            break
    return candles, time.perf_counter() - began


def _latencies(instrument, count: int) -> np.ndarray:
    session = _session(instrument, per_step=1)
    times = []
    for _ in range(count):
        began = time.perf_counter()
        result = _step(session.pk)  # publish runs on commit, inside this call
        times.append(time.perf_counter() - began)
        assert result.candles == 1
    return np.array(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL server (the benchmark creates its own db)")
    name = os.environ.get("ORGANISM_BENCH_DB", "organism_bench_trading")
    _admin(base_url, f'DROP DATABASE IF EXISTS "{name}"')
    _admin(base_url, f'CREATE DATABASE "{name}"')
    try:
        _setup_django(_url(base_url, name))
        end = "2023-04-01" if args.quick else "2024-01-01"
        instrument, bars = _load(end)
        start_index = int(np.searchsorted(bars.timestamps, bars.timestamps[0] + 31 * 86_400_000))
        base_candles, base_s = _baseline(bars, start_index)
        candles, seconds = _throughput(instrument)
        latencies = _latencies(instrument, 200 if args.quick else 1_000)
        from django.conf import settings

        layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
        print(f"candles: {candles:,} 1h BTC/USDT from {START} (all agents, paper executor)")
        print(f"bare kernel (baseline, no database):   {base_candles / base_s:10,.0f} candles/s")
        print(f"journaled replay, 500 candles a step:  {candles / seconds:10,.0f} candles/s "
              f"(target >= 500; {candles / seconds / (base_candles / base_s):.2f}x baseline)")
        p50, p99 = np.percentile(latencies, [50, 99])
        print(f"one candle a step, claim -> decision -> fill -> journal commit -> publish "
              f"({layer}):")
        print(f"    p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   (target p99 < 20 ms; "
              f"baseline per candle {1000 * base_s / base_candles:.3f} ms)")
    finally:
        from django.db import connections

        connections.close_all()
        _admin(base_url, f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
