"""Cross-check of the batch indicators against TA-Lib on real Binance 1h data.

For every indicator with a TA-Lib twin: the NaN masks are identical over the
whole series, and after the 1,000-bar warm-up of shared/data/README.md the
values agree to 1e-9 relative. MACD and its histogram cross zero, where a
purely relative test is meaningless, so the tolerance is 1e-9 relative to the
larger of |value| and the series' median magnitude.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import talib

from tests.market_data import load_bars
from trading.engine import indicators as ind
from trading.engine.market import Bars

WARMUP = 1_000
RTOL = 1e-9
SMA_TYPE = talib.MA_Type.SMA
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")

Pair = tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]


def _shift_one(values: np.ndarray) -> np.ndarray:
    return np.concatenate(([np.nan], values[:-1]))


CASES: dict[str, Callable[[Bars], Pair]] = {
    "sma_20": lambda b: ((ind.sma(b.close, 20),), (talib.SMA(b.close, 20),)),
    "sma_200": lambda b: ((ind.sma(b.close, 200),), (talib.SMA(b.close, 200),)),
    "ema_12": lambda b: ((ind.ema(b.close, 12),), (talib.EMA(b.close, 12),)),
    "ema_200": lambda b: ((ind.ema(b.close, 200),), (talib.EMA(b.close, 200),)),
    "wma_3": lambda b: ((ind.wma(b.close, 3),), (talib.WMA(b.close, 3),)),
    "wma_30": lambda b: ((ind.wma(b.close, 30),), (talib.WMA(b.close, 30),)),
    "rsi_14": lambda b: ((ind.rsi(b.close),), (talib.RSI(b.close, 14),)),
    "rsi_3": lambda b: ((ind.rsi(b.close, 3),), (talib.RSI(b.close, 3),)),
    "macd_12_26_9": lambda b: (ind.macd(b.close), talib.MACD(b.close, 12, 26, 9)),
    "macd_5_35_5": lambda b: (ind.macd(b.close, 5, 35, 5), talib.MACD(b.close, 5, 35, 5)),
    "true_range": lambda b: (
        (ind.true_range(b.high, b.low, b.close),),
        (talib.TRANGE(b.high, b.low, b.close),),
    ),
    "atr_14": lambda b: ((ind.atr(b.high, b.low, b.close),), (talib.ATR(b.high, b.low, b.close),)),
    "atr_5": lambda b: (
        (ind.atr(b.high, b.low, b.close, 5),),
        (talib.ATR(b.high, b.low, b.close, 5),),
    ),
    "bollinger_20_2": lambda b: (
        ind.bollinger(b.close),
        talib.BBANDS(b.close, 20, 2.0, 2.0, SMA_TYPE),
    ),
    "bollinger_5_1.5": lambda b: (
        ind.bollinger(b.close, 5, 1.5),
        talib.BBANDS(b.close, 5, 1.5, 1.5, SMA_TYPE),
    ),
    "stochastic_14_3_3": lambda b: (
        ind.stochastic(b.high, b.low, b.close),
        talib.STOCH(b.high, b.low, b.close, 14, 3, SMA_TYPE, 3, SMA_TYPE),
    ),
    "stochastic_21_5_7": lambda b: (
        ind.stochastic(b.high, b.low, b.close, 21, 5, 7),
        talib.STOCH(b.high, b.low, b.close, 21, 5, SMA_TYPE, 7, SMA_TYPE),
    ),
    "obv": lambda b: ((ind.obv(b.close, b.volume),), (talib.OBV(b.close, b.volume),)),
    "volume_ma_20": lambda b: ((ind.volume_ma(b.volume),), (talib.SMA(b.volume, 20),)),
    "adx_14": lambda b: (
        ind.directional_indicators(b.high, b.low, b.close),
        (
            talib.PLUS_DI(b.high, b.low, b.close, 14),
            talib.MINUS_DI(b.high, b.low, b.close, 14),
            talib.ADX(b.high, b.low, b.close, 14),
        ),
    ),
    "adx_7": lambda b: (
        (ind.adx(b.high, b.low, b.close, 7), ind.plus_di(b.high, b.low, b.close, 7)),
        (talib.ADX(b.high, b.low, b.close, 7), talib.PLUS_DI(b.high, b.low, b.close, 7)),
    ),
    "donchian_20": lambda b: (
        ind.donchian(b.high, b.low, 20)[:2],
        (_shift_one(talib.MAX(b.high, 20)), _shift_one(talib.MIN(b.low, 20))),
    ),
    "donchian_55": lambda b: (
        ind.donchian(b.high, b.low, 55)[:2],
        (_shift_one(talib.MAX(b.high, 55)), _shift_one(talib.MIN(b.low, 55))),
    ),
    "chained_sma_of_rsi": lambda b: (
        (ind.sma(ind.rsi(b.close, 14), 5),),
        (talib.SMA(talib.RSI(b.close, 14), 5),),
    ),
}


def assert_matches_talib(ours: np.ndarray, theirs: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg="NaN masks differ")
    a, b = ours[WARMUP:], theirs[WARMUP:]
    valid = ~np.isnan(b)
    assert valid.any(), "no value to compare after the warm-up"
    scale = float(np.median(np.abs(b[valid])))
    np.testing.assert_allclose(a[valid], b[valid], rtol=RTOL, atol=RTOL * scale)


@pytest.fixture(scope="module", params=SYMBOLS)
def bars(request: pytest.FixtureRequest) -> Bars:
    return load_bars(request.param, "1h")


@pytest.mark.parametrize("case", sorted(CASES))
def test_it_matches_talib_on_real_data(bars: Bars, case: str) -> None:
    # given the full real 1h series of one symbol (50k-73k bars)
    assert len(bars) > 50_000
    # when our indicator and TA-Lib's twin are computed on it
    ours, theirs = CASES[case](bars)
    # then every output has TA-Lib's NaN mask and its values after the warm-up
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine.shape == bars.close.shape
        assert mine.dtype == np.float64
        assert_matches_talib(mine, np.asarray(reference, dtype=np.float64))


def test_bollinger_middle_is_exactly_the_sma(bars: Bars) -> None:
    # given real closes
    # when Bollinger bands and the SMA of the same period are computed
    _, middle, _ = ind.bollinger(bars.close, 20, 2.0)
    # then the middle band is the SMA to the last bit
    np.testing.assert_array_equal(middle, ind.sma(bars.close, 20))


def test_bollinger_width_is_closer_to_an_exact_std_than_talibs(bars: Bars) -> None:
    # given the last 5,000 real closes and an exact two-pass population std per window
    close = bars.close
    n = 20
    windows = np.lib.stride_tricks.sliding_window_view(close, n)[-5_000:]
    exact = windows.std(axis=1)
    # when both libraries compute the band width
    upper, middle, _ = ind.bollinger(close, n, 1.0)
    t_upper, t_middle, _ = talib.BBANDS(close, n, 1.0, 1.0, SMA_TYPE)
    ours = (upper - middle)[-5_000:]
    theirs = (t_upper - t_middle)[-5_000:]
    # then ours is within 1e-11 of the exact std, and no worse than TA-Lib's
    our_error = np.max(np.abs(ours - exact) / exact)
    assert our_error < 1e-11
    assert our_error <= np.max(np.abs(theirs - exact) / exact)
