"""Incremental `*State` classes give, bar by bar, what the batch functions give.

Checked on real Binance data (the whole BTC 1h history, and the start of ETH
and SOL) and on Hypothesis-drawn series with ties, flat stretches and zero
volumes: identical NaN masks, values equal to 1e-9 relative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings

from tests.market_data import load_bars
from tests.trading.engine.test_indicators_lookahead import HOUR_MS, Series, ohlcv
from trading.engine import indicators as ind


@dataclass(frozen=True)
class Pairing:
    """An incremental state factory, the columns it is fed, and the batch twin."""

    make_state: Callable[[], object]
    columns: tuple[str, ...]
    batch: Callable[[Series], np.ndarray]


def _stack(*outputs: np.ndarray) -> np.ndarray:
    return np.column_stack(outputs)


PAIRINGS: dict[str, Pairing] = {
    "sma": Pairing(lambda: ind.SMAState(20), ("close",), lambda s: ind.sma(s["close"], 20)),
    "ema": Pairing(lambda: ind.EMAState(9), ("close",), lambda s: ind.ema(s["close"], 9)),
    "wma": Pairing(lambda: ind.WMAState(4), ("close",), lambda s: ind.wma(s["close"], 4)),
    "rsi": Pairing(lambda: ind.RSIState(14), ("close",), lambda s: ind.rsi(s["close"], 14)),
    "macd": Pairing(lambda: ind.MACDState(5, 13, 4), ("close",),
                    lambda s: _stack(*ind.macd(s["close"], 5, 13, 4))),
    "stochastic": Pairing(lambda: ind.StochasticState(9, 3, 3), ("high", "low", "close"),
                          lambda s: _stack(*ind.stochastic(s["high"], s["low"], s["close"],
                                                           9, 3, 3))),
    "zscore": Pairing(lambda: ind.ZScoreState(10), ("close",),
                      lambda s: ind.zscore(s["close"], 10)),
    "true_range": Pairing(ind.TrueRangeState, ("high", "low", "close"),
                          lambda s: ind.true_range(s["high"], s["low"], s["close"])),
    "atr": Pairing(lambda: ind.ATRState(14), ("high", "low", "close"),
                   lambda s: ind.atr(s["high"], s["low"], s["close"], 14)),
    "bollinger": Pairing(lambda: ind.BollingerState(20, 2.0), ("close",),
                         lambda s: _stack(*ind.bollinger(s["close"], 20, 2.0))),
    "donchian": Pairing(lambda: ind.DonchianState(10), ("high", "low"),
                        lambda s: _stack(*ind.donchian(s["high"], s["low"], 10))),
    "realized_volatility": Pairing(lambda: ind.RealizedVolatilityState(12, 8760), ("close",),
                                   lambda s: ind.realized_volatility(s["close"], 12, 8760)),
    "obv": Pairing(ind.OBVState, ("close", "volume"), lambda s: ind.obv(s["close"], s["volume"])),
    "vwap_rolling": Pairing(lambda: ind.VWAPState(6), ("high", "low", "close", "volume"),
                            lambda s: ind.vwap_rolling(s["high"], s["low"], s["close"],
                                                       s["volume"], 6)),
    "vwap_session": Pairing(
        lambda: ind.SessionVWAPState(6 * HOUR_MS, 1.5),
        ("high", "low", "close", "volume", "timestamps"),
        lambda s: _stack(*ind.vwap_session(s["high"], s["low"], s["close"], s["volume"],
                                           s["timestamps"], 6 * HOUR_MS, 1.5)),
    ),
    "adx": Pairing(lambda: ind.ADXState(7), ("high", "low", "close"),
                   lambda s: ind.adx(s["high"], s["low"], s["close"], 7)),
    "ichimoku": Pairing(lambda: ind.IchimokuState(3, 5, 8), ("high", "low"),
                        lambda s: _stack(*ind.ichimoku(s["high"], s["low"], s["close"], 3, 5, 8))),
    "swings": Pairing(lambda: ind.SwingState(2, 1), ("high", "low"),
                      lambda s: _stack(ind.swing_highs(s["high"], 2, 1),
                                       ind.swing_lows(s["low"], 2, 1))),
}


def run_incremental(pairing: Pairing, series: Series) -> np.ndarray:
    state = pairing.make_state()
    rows = zip(*(series[column] for column in pairing.columns), strict=True)
    values = [state.update(*row) for row in rows]  # type: ignore[attr-defined]
    return np.array(values, dtype=np.float64)


def assert_same_as_batch(name: str, incremental: np.ndarray, batch: np.ndarray) -> None:
    assert incremental.shape == batch.shape, name
    np.testing.assert_array_equal(np.isnan(incremental), np.isnan(batch), err_msg=name)
    np.testing.assert_allclose(incremental, batch, rtol=1e-9, atol=0.0, err_msg=name)


def _real_series(symbol: str, limit: int | None) -> Series:
    bars = load_bars(symbol, "1h", limit=limit)
    return {
        "high": bars.high,
        "low": bars.low,
        "close": bars.close,
        "volume": bars.volume,
        "timestamps": bars.timestamps,
    }


@pytest.fixture(scope="module")
def btc_history() -> Series:
    return _real_series("BTCUSDT", None)


@pytest.mark.parametrize("name", sorted(PAIRINGS))
def test_it_equals_batch_on_the_whole_btc_history(btc_history: Series, name: str) -> None:
    # given 73k real BTC 1h bars
    pairing = PAIRINGS[name]
    # when they are fed one by one to the incremental state
    incremental = run_incremental(pairing, btc_history)
    # then every bar's value is the batch value of that bar
    assert_same_as_batch(name, incremental, pairing.batch(btc_history))


@pytest.mark.parametrize("symbol", ["ETHUSDT", "SOLUSDT"])
def test_it_equals_batch_on_other_symbols(symbol: str) -> None:
    # given the first 3,000 bars of another symbol
    series = _real_series(symbol, 3_000)
    for name, pairing in PAIRINGS.items():
        # when fed bar by bar / then equal to the batch function
        assert_same_as_batch(name, run_incremental(pairing, series), pairing.batch(series))


@settings(max_examples=60, deadline=None)
@given(series=ohlcv(max_size=90))
def test_it_equals_batch_on_generated_series(series: Series) -> None:
    # given a short series with ties, flat windows and zero volumes
    for name, pairing in PAIRINGS.items():
        # when fed bar by bar / then equal to the batch function, warm-up included
        assert_same_as_batch(name, run_incremental(pairing, series), pairing.batch(series))


def test_adx_state_exposes_the_directional_indicators(btc_history: Series) -> None:
    # given the first 500 BTC bars
    high, low, close = (btc_history[k][:500] for k in ("high", "low", "close"))
    state = ind.ADXState(14)
    plus, minus = [], []
    # when fed bar by bar
    for row in zip(high, low, close, strict=True):
        state.update(*row)
        plus.append(state.plus_di)
        minus.append(state.minus_di)
    # then plus_di / minus_di follow the batch +DI / -DI
    np.testing.assert_array_equal(plus, ind.plus_di(high, low, close, 14))
    np.testing.assert_array_equal(minus, ind.minus_di(high, low, close, 14))


def test_states_skip_leading_nans_like_the_batch_functions() -> None:
    # given RSI values (NaN for 14 bars) smoothed again by an SMA and an EMA
    close = load_bars("BTCUSDT", "1h", limit=400).close
    rsi_values = ind.rsi(close, 14)
    sma_state, ema_state = ind.SMAState(5), ind.EMAState(5)
    # when the NaN-led series is fed bar by bar
    smoothed = np.array([(sma_state.update(v), ema_state.update(v)) for v in rsi_values])
    # then the warm-up starts at the first real value, as in the batch chain
    assert_same_as_batch("sma", smoothed[:, 0], ind.sma(rsi_values, 5))
    assert_same_as_batch("ema", smoothed[:, 1], ind.ema(rsi_values, 5))
    assert np.isnan(smoothed[:18]).all() and not np.isnan(smoothed[18]).any()


def test_session_vwap_state_refuses_time_going_backwards() -> None:
    # given a session VWAP state that has seen a bar
    state = ind.SessionVWAPState()
    state.update(2.0, 1.0, 1.5, 10.0, 1_700_000_000_000)
    # when an older bar arrives / then it is refused
    with pytest.raises(ValueError, match="increasing"):
        state.update(2.0, 1.0, 1.5, 10.0, 1_700_000_000_000)
