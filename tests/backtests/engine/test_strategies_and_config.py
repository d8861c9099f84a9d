"""Strategy registry and signals, and the validation of costs, sizing and config."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.engine.config import BacktestConfig
from backtests.engine.costs import Costs
from backtests.engine.sizing import Sizing
from backtests.engine.strategies import (
    RSIMeanReversion,
    SMACrossover,
    UnknownStrategyError,
    get_strategy,
    list_strategies,
    register,
)
from tests.backtests.engine.scripted import bars_from_prices
from trading.engine.strategy import ParameterError, Strategy


def test_the_registry_lists_and_finds_the_shipped_strategies():
    names = [s.name for s in list_strategies()]
    assert {"sma_crossover", "rsi_mean_reversion"} <= set(names)
    assert names == sorted(names)
    assert isinstance(get_strategy("sma_crossover"), Strategy)
    with pytest.raises(UnknownStrategyError, match="sma_crossover"):
        get_strategy("no_such_strategy")
    with pytest.raises(ValueError, match="already registered"):
        register(SMACrossover())
    register(SMACrossover(), replace=True)


def test_sma_crossover_signals_the_bar_where_the_lines_cross():
    # given prices that fall, then rise steadily
    closes = [10, 9, 8, 7, 6, 5, 6, 7, 8, 9, 10, 11, 12, 11, 10, 9, 8]
    bars = bars_from_prices(closes, close=closes)
    signals = SMACrossover().signals(bars, {"fast": 2, "slow": 4})
    fast = np.convolve(closes, np.ones(2) / 2, "valid")[2:]
    slow = np.convolve(closes, np.ones(4) / 4, "valid")
    above = fast > slow
    expected_up = np.flatnonzero(above[1:] & ~above[:-1]) + 4
    expected_down = np.flatnonzero(~above[1:] & above[:-1]) + 4
    np.testing.assert_array_equal(np.flatnonzero(signals.entries), expected_up)
    np.testing.assert_array_equal(np.flatnonzero(signals.exits), expected_down)
    assert signals.short_entries is not None
    np.testing.assert_array_equal(signals.short_entries, signals.exits)
    assert not signals.entries[:4].any()  # warm-up never signals


def test_rsi_mean_reversion_buys_oversold_and_sells_overbought(btc_2022):
    from trading.engine.indicators import rsi

    params = {"period": 14, "oversold": 25.0, "overbought": 75.0}
    signals = RSIMeanReversion().signals(btc_2022, params)
    values = rsi(btc_2022.close, 14)
    np.testing.assert_array_equal(signals.entries, values < 25.0)
    np.testing.assert_array_equal(signals.exits, values > 75.0)
    assert signals.entries.any() and signals.exits.any()


def test_parameters_are_validated_including_cross_rules(btc_2022):
    with pytest.raises(ParameterError) as caught:
        SMACrossover().signals(btc_2022, {"fast": 50, "slow": 20})
    assert "slow" in caught.value.errors
    with pytest.raises(ParameterError):
        SMACrossover().signals(btc_2022, {"fast": 1, "slow": 20})
    with pytest.raises(ParameterError):
        RSIMeanReversion().signals(btc_2022, {"period": 14, "oversold": 60.0})


@pytest.mark.parametrize(
    "make",
    [
        lambda: Costs(taker_fee=-0.001),
        lambda: Costs(slippage=float("nan")),
        lambda: Costs(maker_fee=0.5),
        lambda: Sizing.fraction(1.5),
        lambda: Sizing.cash(0),
        lambda: Sizing("lots", 1.0),  # type: ignore[arg-type]
        lambda: Sizing.units(1, granularity=0),
        lambda: BacktestConfig(initial_cash=0),
        lambda: BacktestConfig(timeframe="7m"),
        lambda: BacktestConfig(sl_stop=0.05, tsl_stop=0.05),
        lambda: BacktestConfig(tp_stop=-0.1),
    ],
)
def test_invalid_settings_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_config_round_trips_through_a_dict_and_annualises_by_timeframe():
    config = BacktestConfig(initial_cash=5_000, costs=Costs(0.0001, 0.0004, 0.0002),
                            sizing=Sizing.cash(1_000), allow_short=True, tsl_stop=0.05)
    assert BacktestConfig.from_dict(config.as_dict()) == config
    assert config.periods_per_year("1h") == 8760
    assert BacktestConfig(timeframe="1d").periods_per_year("1h") == 365
    assert Costs().as_dict() == {"maker_fee": 0.0002, "taker_fee": 0.0005, "slippage": 0.0005}
