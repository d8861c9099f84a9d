"""Rows/s importing binance_btcusdt_1h into PostgreSQL: the import command vs a naive ORM loop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/organism \
        .venv/bin/python bench/ingest.py [--quick]

Creates a throwaway database (organism_bench, or ORGANISM_BENCH_DB) next to the
one DATABASE_URL names, migrates it, and measures in the same run:
- `manage.py candles_import` of the whole 73,265-row file (read, quality
  checks, COPY into a temp table, INSERT ... ON CONFLICT DO NOTHING, report);
- a naive per-row `Candle.objects.create` (autocommit, one INSERT per row) on a
  prefix of the file (5,000 rows, 1,000 with --quick), extrapolated to rows/s.
Prints both rates and the ratio (target: at least 20x), then drops the database.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _bench_url(base_url: str, name: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_execute(base_url: str, sql: str) -> None:
    """Run `sql` on the server's maintenance database (DATABASE_URL's own may not exist)."""
    with psycopg.connect(_bench_url(base_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "organism.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _measure_import(path: Path) -> tuple[int, float]:
    from django.core.management import call_command

    from trading.models import Candle

    started = time.perf_counter()
    call_command("candles_import", str(path), "--exchange", "binance", "--symbol", "BTC/USDT",
                 "--timeframe", "1h", stdout=io.StringIO(), stderr=io.StringIO())
    elapsed = time.perf_counter() - started
    return Candle.objects.filter(instrument__symbol="BTC/USDT").count(), elapsed


def _measure_naive(path: Path, rows: int) -> tuple[int, float]:
    import pandas as pd

    from trading.models import Candle
    from trading.services.instruments import instrument_get_or_create

    frame = pd.read_csv(path, nrows=rows)
    instrument = instrument_get_or_create(exchange="binance", symbol="NAIVE/USDT")
    records = frame.to_dict("records")
    started = time.perf_counter()
    for row in records:
        Candle.objects.create(instrument=instrument, timeframe="1h",
                              open_time=int(row["timestamp"]), open=row["open"],
                              high=row["high"], low=row["low"], close=row["close"],
                              volume=row["volume"])
    return len(records), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="naive path on 1,000 rows")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/ingest.py needs DATABASE_URL pointing at PostgreSQL")
    from tests.market_data import data_dir

    path = data_dir() / "binance_btcusdt_1h.csv.gz"
    name = os.environ.get("ORGANISM_BENCH_DB", "organism_bench")
    _admin_execute(base_url, f'DROP DATABASE IF EXISTS "{name}"')
    _admin_execute(base_url, f'CREATE DATABASE "{name}"')
    try:
        _setup_django(_bench_url(base_url, name))
        imported, import_s = _measure_import(path)
        naive_rows, naive_s = _measure_naive(path, 1_000 if args.quick else 5_000)
    finally:
        from django.db import connections

        connections.close_all()
        _admin_execute(base_url, f'DROP DATABASE IF EXISTS "{name}"')
    bulk_rate = imported / import_s
    naive_rate = naive_rows / naive_s
    print(f"candles_import (COPY):  {imported:>7,} rows in {import_s:7.2f} s "
          f"= {bulk_rate:>10,.0f} rows/s")
    print(f"naive ORM create:       {naive_rows:>7,} rows in {naive_s:7.2f} s "
          f"= {naive_rate:>10,.0f} rows/s "
          f"(extrapolated to {imported:,} rows: {imported / naive_rate:,.0f} s)")
    print(f"ratio: {bulk_rate / naive_rate:,.1f}x (target >= 20x)")


if __name__ == "__main__":
    main()
