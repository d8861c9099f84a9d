"""Fixtures for backtest session tests: a year of real BTC/USDT 1h candles in the test database."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from django.db import connection

from tests.factories import InstrumentFactory, candles_create
from tests.market_data import load_bars

# Small analyses keep the suite fast; everything else is as a user would run it.
FAST_OPTIONS = {"monte_carlo_paths": 1_000, "walk_forward_windows": 3,
                "optimizer_grid_points": 3, "lookahead_points": 8}
START = datetime(2022, 1, 1, tzinfo=UTC)
END = datetime(2023, 1, 1, tzinfo=UTC)


@pytest.fixture
def btc_hourly(db):
    """binance BTC/USDT with the real 1h bars of 2021-12 .. 2022 (December gives warm-up)."""
    instrument = InstrumentFactory(base="BTC", quote="USDT", symbol="BTC/USDT")
    candles_create(instrument, load_bars("BTCUSDT", "1h", start="2021-12-01", end="2023-01-01"))
    return instrument


@pytest.fixture
def create_kwargs(btc_hourly):
    """Arguments of `backtest_create` for an SMA crossover on BTC/USDT over 2022."""

    def make(**overrides):
        values = {
            "user": None, "name": "sma 2022", "strategy": "sma_crossover",
            "params": {"fast": 10, "slow": 50}, "instrument_ids": [btc_hourly.pk],
            "timeframe": "1h", "start": START, "end": END, "initial_cash": 10_000.0,
            "costs": {}, "sizing": {}, "options": dict(FAST_OPTIONS),
            "kind": "vectorized",
        }
        values.update(overrides)
        return values

    return make


@pytest.fixture
def unique_session_ids(django_db_blocker):
    """Session ids no other test run on the shared Redis uses (their groups must not collide)."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('backtests_backtestsession', 'id'),"
                       " %s)", [random.randint(10**9, 10**12)])
