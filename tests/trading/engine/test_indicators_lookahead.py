"""No indicator looks ahead: appending bars never changes an earlier value.

Hypothesis draws small OHLCV series with ties, flat stretches and zero-volume
bars (the cases where a careless implementation peeks ahead or divides by
zero), cuts them at a random bar, and checks that every output of every
indicator on the prefix equals the output on the full series up to the cut.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.engine import indicators as ind

Series = dict[str, np.ndarray]
Outputs = tuple[np.ndarray, ...]

HOUR_MS = 3_600_000

INDICATORS: dict[str, Callable[[Series], Outputs]] = {
    "sma": lambda s: (ind.sma(s["close"], 5),),
    "ema": lambda s: (ind.ema(s["close"], 5),),
    "wma": lambda s: (ind.wma(s["close"], 3),),
    "rsi": lambda s: (ind.rsi(s["close"], 4),),
    "macd": lambda s: ind.macd(s["close"], 3, 7, 4),
    "true_range": lambda s: (ind.true_range(s["high"], s["low"], s["close"]),),
    "atr": lambda s: (ind.atr(s["high"], s["low"], s["close"], 4),),
    "bollinger": lambda s: ind.bollinger(s["close"], 5, 2.0),
    "donchian": lambda s: ind.donchian(s["high"], s["low"], 4),
    "stochastic": lambda s: ind.stochastic(s["high"], s["low"], s["close"], 5, 2, 3),
    "ichimoku": lambda s: tuple(ind.ichimoku(s["high"], s["low"], s["close"], 3, 5, 8)),
    "vwap_rolling": lambda s: (
        ind.vwap_rolling(s["high"], s["low"], s["close"], s["volume"], 4),
    ),
    "vwap_session": lambda s: ind.vwap_session(
        s["high"], s["low"], s["close"], s["volume"], s["timestamps"], 6 * HOUR_MS
    ),
    "volume_ma": lambda s: (ind.volume_ma(s["volume"], 4),),
    "obv": lambda s: (ind.obv(s["close"], s["volume"]),),
    "adx": lambda s: ind.directional_indicators(s["high"], s["low"], s["close"], 3),
    "zscore": lambda s: (ind.zscore(s["close"], 5),),
    "realized_volatility": lambda s: (ind.realized_volatility(s["close"], 5, 8760),),
    "swing_highs": lambda s: (ind.swing_highs(s["high"], 2, 2),),
    "swing_lows": lambda s: (ind.swing_lows(s["low"], 1, 3),),
}


@st.composite
def ohlcv(draw: st.DrawFn, min_size: int = 1, max_size: int = 120) -> Series:
    """Half-unit price steps (so ties and flat windows happen), some zero volumes."""
    size = draw(st.integers(min_size, max_size))
    steps = draw(st.lists(st.integers(-3, 3), min_size=size, max_size=size))
    wicks = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=size,
                          max_size=size))
    volume = draw(st.lists(st.integers(0, 5), min_size=size, max_size=size))
    gaps = draw(st.lists(st.integers(1, 3), min_size=size, max_size=size))
    close = 100.0 + 0.5 * np.cumsum(steps)
    open_ = np.concatenate(([100.0], close[:-1]))
    up, down = np.array(wicks, dtype=float).T.reshape(2, size) * 0.5
    return {
        "high": np.maximum(open_, close) + up,
        "low": np.minimum(open_, close) - down,
        "close": close,
        "volume": np.array(volume, dtype=float) * 1.5,
        "timestamps": 1_700_000_000_000 + HOUR_MS * np.cumsum(gaps).astype(np.int64),
    }


def _prefix(series: Series, stop: int) -> Series:
    return {name: values[:stop] for name, values in series.items()}


@settings(max_examples=100, deadline=None)
@given(data=ohlcv(), cut=st.floats(0.0, 1.0))
def test_appending_bars_never_changes_earlier_values(data: Series, cut: float) -> None:
    # given a series and a prefix of it
    stop = int(cut * len(data["close"]))
    for name, indicator in INDICATORS.items():
        # when the indicator runs on both
        full = indicator(data)
        truncated = indicator(_prefix(data, stop))
        # then each output on the prefix is the full output up to the cut
        assert len(full) == len(truncated), name
        for whole, part in zip(full, truncated, strict=True):
            assert whole.shape == data["close"].shape, name
            np.testing.assert_array_equal(np.isnan(part), np.isnan(whole[:stop]), err_msg=name)
            np.testing.assert_allclose(part, whole[:stop], rtol=1e-12, atol=0.0, err_msg=name)


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_it_returns_all_nan_when_the_series_is_shorter_than_the_warm_up(name: str) -> None:
    # given two bars only, and no bars at all
    two = {k: v[:2] for k, v in _fixed_series(2).items()}
    empty = {k: v[:0] for k, v in _fixed_series(2).items()}
    # when the indicator runs
    # then it returns arrays of the input's length without failing
    for series in (two, empty):
        for out in INDICATORS[name](series):
            assert out.shape == series["close"].shape


def _fixed_series(size: int) -> Series:
    close = np.linspace(100.0, 110.0, size)
    return {
        "high": close + 1.0,
        "low": close - 1.0,
        "close": close,
        "volume": np.ones(size),
        "timestamps": 1_700_000_000_000 + HOUR_MS * np.arange(size, dtype=np.int64),
    }
