"""Real-data fixtures for the backtest engine tests (shared/data, see tests/market_data.py)."""

from __future__ import annotations

import pytest

from tests.market_data import load_bars
from trading.engine.market import Bars


@pytest.fixture(scope="session")
def btc_2022() -> Bars:
    """BTCUSDT 1h for 2022 (8,760 bars)."""
    return load_bars("BTCUSDT", "1h", start="2022-01-01", end="2023-01-01")


@pytest.fixture(scope="session")
def eth_2022() -> Bars:
    return load_bars("ETHUSDT", "1h", start="2022-01-01", end="2023-01-01")


@pytest.fixture(scope="session")
def btc_2021_2022() -> Bars:
    """BTCUSDT 1h for 2021-2022 (about 17,500 bars, with the exchange's real gaps)."""
    return load_bars("BTCUSDT", "1h", start="2021-01-01", end="2023-01-01")
