"""Fixtures for market-data tests: a local fake Binance that ccxt is pointed at."""

from __future__ import annotations

import pytest

from tests.fake_exchange import FakeBinance, Market
from tests.market_data import load_bars

# 2024-01-03 00:30 UTC: the 00:00 bar is still in progress
FAKE_NOW_MS = 1_704_241_800_000


@pytest.fixture
def fake_binance(settings):
    """A running fake Binance serving real BTC/USDT 1h bars of 2024-01-01 .. 2024-01-03,
    with ccxt (ORGANISM_EXCHANGE_URLS) pointed at it and fast retries."""
    markets = [Market("BTC", "USDT"), Market("ETH", "USDT")]
    with FakeBinance(now_ms=FAKE_NOW_MS, markets=markets) as fake:
        bars = load_bars("BTCUSDT", "1h", start="2024-01-01", end="2024-01-04")
        fake.serve_candles("BTCUSDT", bars)
        settings.ORGANISM_EXCHANGE_URLS = fake.base_url
        settings.ORGANISM_FETCH_RETRY_BASE_S = 0.01
        settings.ORGANISM_FETCH_RETRY_MAX_S = 0.05
        settings.ORGANISM_CCXT_TIMEOUT_MS = 2_000
        yield fake
