"""Several instruments in one run: equal sub-accounts that add up to the portfolio."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.engine.backtest import align_bars, run_backtest, run_multi
from backtests.engine.config import BacktestConfig
from backtests.engine.strategies import SMACrossover
from tests.market_data import load_bars

PARAMS = {"fast": 12, "slow": 48}


def test_each_instrument_trades_its_share_as_a_single_backtest_would(btc_2022, eth_2022):
    # given BTC and ETH on the same hours and a long/short config
    config = BacktestConfig(initial_cash=20_000, allow_short=True)
    btc, eth = align_bars([btc_2022, eth_2022])
    # when run together
    result = run_multi([btc, eth], SMACrossover(), PARAMS, config)
    # then each sub-account equals a single backtest with half the cash
    half = BacktestConfig(initial_cash=10_000, allow_short=True)
    for bars, part in zip((btc, eth), result.instruments, strict=True):
        alone = run_backtest(bars, SMACrossover(), PARAMS, half)
        np.testing.assert_allclose(part.equity, alone.equity, rtol=1e-12)
        np.testing.assert_array_equal(part.trades.entry_index, alone.trades.entry_index)
        assert part.symbol == bars.symbol
    # and the portfolio is their sum, with every trade labelled by its symbol
    np.testing.assert_allclose(
        result.portfolio.equity, result.instruments[0].equity + result.instruments[1].equity,
        rtol=1e-12)
    symbols = {r["symbol"] for r in result.portfolio.trades.to_records()}
    assert symbols == {"BTCUSDT", "ETHUSDT"}
    assert result.portfolio.initial_cash == 20_000
    assert result.to_dict()["instruments"].keys() == {"BTCUSDT", "ETHUSDT"}


def test_align_bars_keeps_only_common_timestamps():
    # given SOL (listed 2020-08-11) and BTC over a range where SOL has fewer bars
    btc = load_bars("BTCUSDT", "1h", start="2020-08-01", end="2020-09-01")
    sol = load_bars("SOLUSDT", "1h", start="2020-08-01", end="2020-09-01")
    # when aligned
    a, b = align_bars([btc, sol])
    # then both have exactly SOL's timestamps, with BTC's prices at those times
    np.testing.assert_array_equal(a.timestamps, sol.timestamps)
    np.testing.assert_array_equal(b.timestamps, sol.timestamps)
    index = np.searchsorted(btc.timestamps, sol.timestamps)
    np.testing.assert_array_equal(a.close, btc.close[index])


def test_instruments_with_different_timestamps_are_refused(btc_2022):
    sol = load_bars("SOLUSDT", "1h", start="2022-01-01", end="2023-01-01")
    shorter = sol.slice(0, len(sol) - 5)
    with pytest.raises(ValueError, match="align"):
        run_multi([btc_2022, shorter], SMACrossover(), PARAMS)
