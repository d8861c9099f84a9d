"""Fixtures for evolution tests: real BTC/USDT and ETH/USDT 1h candles (with their perpetuals'
funding rates) for a few months, and small, fast run configurations."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from django.db import connection

from evolution.engine.evaluation import clear_lookahead_cache
from tests.factories import InstrumentFactory, candles_create, funding_rates_create
from tests.market_data import load_bars, load_funding
from trading.models import Instrument

START = datetime(2022, 1, 1, tzinfo=UTC)
END = datetime(2022, 5, 1, tzinfo=UTC)
FUNDING_FROM_MS, FUNDING_UNTIL_MS = 1_635_724_800_000, 1_651_363_200_000  # 2021-11 .. 2022-05
# Every seed but the two scikit-learn ones (a walk-forward refit costs ~0.3 s a call).
FAST_SEEDS = ["ema_crossover", "donchian_breakout", "rsi_filter", "stochastic_oscillator",
              "sma_trend_filter", "atr_stop_loss", "ichimoku_cloud", "vwap_reversion",
              "volatility_scaling", "funding_rate_carry"]


def _market(base: str) -> Instrument:
    spot = InstrumentFactory(base=base, quote="USDT", symbol=f"{base}/USDT")
    candles_create(spot, load_bars(f"{base}USDT", "1h", start="2021-12-01", end="2022-05-01"))
    perp = InstrumentFactory(exchange=spot.exchange, base=base, quote="USDT",
                             symbol=f"{base}/USDT", market_type=Instrument.MarketType.PERP)
    stamps, rates = load_funding(f"{base}USDT")
    kept = (stamps >= FUNDING_FROM_MS) & (stamps < FUNDING_UNTIL_MS)
    funding_rates_create(perp, stamps[kept], rates[kept])
    return spot


@pytest.fixture
def markets(db) -> list[Instrument]:
    """binance BTC/USDT and ETH/USDT spot, 1h bars 2021-12 .. 2022-04 (December warms up),
    and their perpetuals with the real funding rates."""
    return [_market("BTC"), _market("ETH")]


@pytest.fixture
def run_kwargs(markets):
    """Arguments of `evolution_run_create` for a small, fast run."""

    def make(**overrides):
        values = {
            "user": None, "name": "small", "seeds": list(FAST_SEEDS),
            "instrument_ids": [m.pk for m in markets], "timeframe": "1h", "start": START,
            "end": END, "population": 8, "generations": 3, "random_seed": 11,
            "batch_size": 3, "validate_top": 2, "hall_of_fame_size": 5,
        }
        values.update(overrides)
        return values

    return make


@pytest.fixture
def eager(settings):
    """Celery runs every task in-process, chords included (what the embedded mode does
    with threads; here synchronously)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    clear_lookahead_cache()
    return settings


@pytest.fixture
def unique_run_ids(django_db_blocker):
    """Run ids no other test process on the shared Redis uses (their groups must not collide)."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('evolution_evolutionrun', 'id'),"
                       " %s)", [random.randint(10**9, 10**11)])
