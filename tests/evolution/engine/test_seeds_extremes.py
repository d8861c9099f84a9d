"""The fused seeds (Donchian breakout, Ichimoku cloud, SMA trend filter, stochastic
oscillator) give bit for bit the signals of their code before the fused kernels, and the
window extremes they share equal the library's rolling kernels.

The reference oracles below are that former code, verbatim, written with
`trading.engine.indicators` (the library checked against TA-Lib); the event helpers of
`evolution.engine.seeds.crossings` and `seed.no_orders` are copied too, so the oracles stay
fixed whatever becomes of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from evolution.engine.seeds import get_seed
from evolution.engine.seeds.extremes import extreme_into, midpoint_into, side_of, sma_into
from tests.evolution.engine.seed_fixtures import bars_from_closes, random_params, real_bars
from tests.market_data import load_bars
from trading.engine.indicators import donchian, ichimoku, sma, stochastic
from trading.engine.indicators.inputs import run_on_valid_tail
from trading.engine.indicators.kernels import rolling
from trading.engine.market import Bars
from trading.engine.strategy import Signals

FIELDS = ("entries", "exits", "short_entries", "short_exits", "size", "sl_stop", "tp_stop",
          "tsl_stop")


def crossed_above(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    left = np.asarray(a, dtype=np.float64)
    right = np.broadcast_to(np.asarray(b, dtype=np.float64), left.shape)
    out = np.zeros(len(left), dtype=bool)
    if len(left) > 1:
        out[1:] = (left[1:] > right[1:]) & (left[:-1] <= right[:-1])
    return out


def crossed_below(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    left = np.asarray(a, dtype=np.float64)
    right = np.broadcast_to(np.asarray(b, dtype=np.float64), left.shape)
    out = np.zeros(len(left), dtype=bool)
    if len(left) > 1:
        out[1:] = (left[1:] < right[1:]) & (left[:-1] >= right[:-1])
    return out


def became_true(state: np.ndarray) -> np.ndarray:
    now = np.asarray(state, dtype=bool)
    out = now.copy()
    out[1:] &= ~now[:-1]
    return out


def exits_without_entries(exits: np.ndarray, entries: np.ndarray) -> np.ndarray:
    return np.asarray(exits, dtype=bool) & ~np.asarray(entries, dtype=bool)


def no_orders(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)


def donchian_breakout(bars: Bars, params: dict[str, Any]) -> Signals:
    close, threshold = bars.close, params["breakout_threshold"]
    upper, lower, _ = donchian(bars.high, bars.low, params["entry_period"])
    exit_upper, exit_lower, _ = donchian(bars.high, bars.low, params["exit_period"])
    entries = close > upper * (1.0 + threshold)
    exits = close < exit_lower
    if not params["allow_short"]:
        return Signals(entries=entries, exits=exits)
    return Signals(
        entries=entries,
        exits=exits,
        short_entries=close < lower * (1.0 - threshold),
        short_exits=close > exit_upper,
    )


def sma_trend_filter(bars: Bars, params: dict[str, Any]) -> Signals:
    average = sma(bars.close, params["period"])
    band = params["band"]
    allow = bars.close > average * (1.0 + band)
    allow_short = bars.close < average * (1.0 - band)
    lag = params["slope_bars"]
    if lag > 0:
        earlier = np.full(len(bars), np.nan)
        earlier[lag:] = average[:-lag]
        allow &= average > earlier
        allow_short &= average < earlier
    entries, exits = no_orders(len(bars))
    return Signals(
        entries=entries, exits=exits, extras={"allow": allow, "allow_short": allow_short}
    )


def ichimoku_cloud(bars: Bars, params: dict[str, Any]) -> Signals:
    cloud = ichimoku(
        bars.high, bars.low, bars.close, params["tenkan"], params["kijun"], params["senkou_b"]
    )
    close = bars.close
    top = np.fmax(cloud.senkou_a, cloud.senkou_b)
    bottom = np.fmin(cloud.senkou_a, cloud.senkou_b)
    known = np.isfinite(cloud.senkou_a) & np.isfinite(cloud.senkou_b)
    bullish = known & (close > top) & (cloud.tenkan > cloud.kijun)
    bearish = known & (close < bottom) & (cloud.tenkan < cloud.kijun)
    entries = became_true(bullish)
    if params["exit_rule"] == "kijun":
        exits, short_exits = close < cloud.kijun, close > cloud.kijun
    else:
        exits, short_exits = known & (close < bottom), known & (close > top)
    exits = exits_without_entries(exits, entries)
    if not params["allow_short"]:
        return Signals(entries=entries, exits=exits)
    short_entries = became_true(bearish)
    return Signals(
        entries=entries,
        exits=exits,
        short_entries=short_entries,
        short_exits=exits_without_entries(short_exits, short_entries),
    )


def stochastic_oscillator(bars: Bars, params: dict[str, Any]) -> Signals:
    k, d = stochastic(
        bars.high,
        bars.low,
        bars.close,
        params["k_period"],
        params["smooth_k"],
        params["d_period"],
    )
    up, down = crossed_above(k, d), crossed_below(k, d)
    low, high = params["oversold"], params["overbought"]
    entries, short_entries = up & (d < low), down & (d > high)
    if params["exit_rule"] == "any_cross":
        exits, short_exits = down, up
    else:
        exits, short_exits = down & (d > high), up & (d < low)
    if not params["allow_short"]:
        return Signals(entries=entries, exits=exits)
    return Signals(
        entries=entries, exits=exits, short_entries=short_entries, short_exits=short_exits
    )


REFERENCES: dict[str, Callable[[Bars, dict[str, Any]], Signals]] = {
    "donchian_breakout": donchian_breakout,
    "sma_trend_filter": sma_trend_filter,
    "ichimoku_cloud": ichimoku_cloud,
    "stochastic_oscillator": stochastic_oscillator,
}

FUSED = tuple(REFERENCES)


def assert_same_signals(actual: Signals, expected: Signals) -> None:
    """Every field and extra: None where None, else the same dtype, shape and values."""
    for name in FIELDS:
        _assert_same(getattr(actual, name), getattr(expected, name), name)
    assert actual.extras.keys() == expected.extras.keys()
    for key, value in expected.extras.items():
        _assert_same(actual.extras[key], value, f"extras.{key}")


def _assert_same(actual: Any, expected: Any, name: str) -> None:
    if expected is None or actual is None:
        assert actual is None and expected is None, name
        return
    assert np.asarray(actual).dtype == np.asarray(expected).dtype, name
    assert np.shape(actual) == np.shape(expected), name
    np.testing.assert_array_equal(actual, expected, err_msg=name)


def with_series(bars: Bars, **series: np.ndarray) -> Bars:
    """`bars` with some of its price series replaced."""
    arrays = {name: getattr(bars, name) for name in ("open", "high", "low", "close", "volume")}
    arrays.update(series)
    return Bars.from_arrays(bars.timestamps, timeframe=bars.timeframe, **arrays)


def random_walk(n: int, seed: int = 3, spread: float = 0.003) -> Bars:
    rng = np.random.default_rng(seed)
    return bars_from_closes(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))), spread=spread)


def nan_at(values: np.ndarray, where: Any) -> np.ndarray:
    out = values.copy()
    out[where] = np.nan
    return out


def edge_cases() -> dict[str, Bars]:
    """Synthetic bars where the leading-NaN, warm-up and flat-window rules matter."""
    walk = random_walk(400)
    ticks = bars_from_closes(np.round(100.0 + np.cumsum(np.random.default_rng(5).choice(
        [-1.0, 0.0, 1.0], 400)), 0), spread=0.0)  # many equal highs and lows
    spikes = walk.high.copy()
    spikes[[50, 51, 200]] = np.inf
    return {
        "walk": walk,
        "ties": ticks,
        "leading nans": with_series(walk, high=nan_at(walk.high, slice(0, 7)),
                                    low=nan_at(walk.low, slice(0, 3)),
                                    close=nan_at(walk.close, slice(0, 12))),
        "nans inside": with_series(walk, high=nan_at(walk.high, [40, 41, 177]),
                                   low=nan_at(walk.low, [90, 300]),
                                   close=nan_at(walk.close, [120, 121, 122, 250])),
        "infinite highs": with_series(walk, high=spikes),
        "all nan": with_series(walk, high=np.full(400, np.nan), low=np.full(400, np.nan),
                               close=np.full(400, np.nan)),
        "flat": bars_from_closes(np.full(300, 100.0)),
        "zero volume": with_series(walk.slice(0, 300), volume=np.zeros(300)),
        "flat then rising": bars_from_closes([100.0] * 60 + [100.0 + i for i in range(1, 90)]),
        "shorter than the periods": walk.slice(0, 30),
        "two bars": walk.slice(0, 2),
        "one bar": walk.slice(0, 1),
        "no bars": walk.slice(0, 0),
    }


def parameter_sets(name: str, count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Defaults, the corners of the space (every low, every high, both for each choice),
    then `count` uniformly drawn sets, some repeated."""
    strategy = get_seed(name)
    space = strategy.param_space
    corners: list[dict[str, Any]] = [strategy.validate({})]
    for corner in ("low", "high"):
        for flip in (False, True):
            params: dict[str, Any] = {}
            for i, p in enumerate(space):
                if p.kind == "bool":
                    params[p.name] = flip
                elif p.kind == "categorical":
                    params[p.name] = p.choices[(i + flip) % len(p.choices)]
                else:
                    params[p.name] = p.low if (corner == "low") != (flip and i % 2 == 1) \
                        else p.high
            corners.append(strategy.validate(params))
    rng = np.random.default_rng(seed)
    drawn = [strategy.validate(random_params(space, rng)) for _ in range(count)]
    return corners + drawn + drawn[:3]


def assert_matches_reference(name: str, bars: Bars, params: list[dict[str, Any]]) -> None:
    strategy, reference = get_seed(name), REFERENCES[name]
    together = strategy.compute_many(bars, params)
    assert len(together) == len(params)
    for p, signals in zip(params, together, strict=True):
        expected = reference(bars, p)
        assert_same_signals(signals, expected)
        assert_same_signals(strategy.compute(bars, p), expected)


@pytest.fixture(scope="module")
def real() -> dict[str, Bars]:
    return {
        "BTC 2022": real_bars(start="2022-01-01", end="2023-01-01"),
        "ETH": load_bars("ETHUSDT", "1h", start="2022-06-01", end="2022-09-01"),
        "SOL": load_bars("SOLUSDT", "1h", start="2022-03-01", end="2022-05-01"),
    }


@pytest.mark.parametrize("name", FUSED)
def test_fused_seeds_equal_their_reference_on_real_data(name, real):
    # given
    params = parameter_sets(name, 40)

    # when / then: compute_many and compute both give the reference's signals
    for bars in real.values():
        assert_matches_reference(name, bars, params)


@pytest.mark.parametrize("name", FUSED)
@pytest.mark.parametrize("case", list(edge_cases()))
def test_fused_seeds_equal_their_reference_on_edge_cases(name, case):
    # given
    bars = edge_cases()[case]

    # when / then
    assert_matches_reference(name, bars, parameter_sets(name, 12, seed=len(case)))


@pytest.mark.parametrize("name", FUSED)
def test_a_short_call_on_truncated_bars_equals_the_reference(name, real):
    # given: the lookahead gate's use, one block on the first bars
    bars = real["BTC 2022"]
    params = parameter_sets(name, 6, seed=11)

    # when / then
    for cut in (3, 17, 64, 161, 300):
        for p in params:
            assert_same_signals(get_seed(name).compute(bars.slice(0, cut), p),
                                REFERENCES[name](bars.slice(0, cut), p))


@pytest.mark.parametrize("name", FUSED)
def test_no_parameter_sets_give_no_signals(name):
    # when / then
    assert get_seed(name).compute_many(random_walk(50), []) == []


def test_window_extremes_equal_the_library_kernels():
    # given: leading NaNs, ties, a NaN inside (the library kernels' own path), short tails
    walk = random_walk(700)
    series = {
        "leading": nan_at(walk.high, slice(0, 9)),
        "ties": np.round(walk.close, 0),
        "inside": nan_at(walk.low, [3, 100, 101, 500]),
        "short": walk.close[:5],
        "empty": walk.close[:0],
    }
    kernels = {(True, False): rolling.rolling_max, (False, False): rolling.rolling_min,
               (True, True): rolling.rolling_max_before, (False, True): rolling.rolling_min_before}
    for label, x in series.items():
        for (highest, before), kernel in kernels.items():
            prepared = side_of(x, 300, highest, -1)
            for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 31, 32, 33, 64, 100, 255, 256, 300):
                # when
                out = np.empty(len(x))
                extreme_into(prepared, n, before, out)

                # then
                (expected,) = run_on_valid_tail(kernel, [x], (n,))
                np.testing.assert_array_equal(out, expected, err_msg=f"{label} {kernel} {n}")


def test_midpoints_and_smas_equal_the_library():
    # given: highs and lows with leading NaN runs of different lengths
    walk = random_walk(500)
    high, low = nan_at(walk.high, slice(0, 4)), nan_at(walk.low, slice(0, 11))
    close = nan_at(walk.close, slice(0, 6))
    highs, lows = side_of(high, 160, True, -1), side_of(low, 160, False, -1)
    for n in (1, 5, 9, 26, 52, 160):
        # when
        midpoint, average = np.empty(500), np.empty(500)
        midpoint_into(highs, lows, n, midpoint)
        sma_into(close, n, average)

        # then
        (highest,) = run_on_valid_tail(rolling.rolling_max, [high], (n,))
        (lowest,) = run_on_valid_tail(rolling.rolling_min, [low], (n,))
        np.testing.assert_array_equal(midpoint, (highest + lowest) / 2.0)
        np.testing.assert_array_equal(average, sma(close, n))


def test_sparse_table_stays_within_memory_for_long_windows():
    # given: windows longer than the series
    x = random_walk(50).close

    # when
    prepared = side_of(x, 10_000, True, -1)

    # then: rows only up to the longest run that fits
    assert prepared.table.shape == (int(math.log2(50)) + 1, 50)
