"""The fast seed paths give bit for bit the signals of the code they replaced.

`compute_many` (many blocks of one seed together) and `compute` (one block) of the
RSI filter, ATR stop-loss, volatility scaling, VWAP reversion and funding carry
seeds are checked against their former one-block code (`seed_oracles`) on real
bars and on synthetic edge cases, for random and boundary parameters: the same
fields (None where None), dtypes and bytes, NaN where NaN (NaN payloads and sign
bits aside).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from evolution.engine.lookahead_gate import FIELDS
from evolution.engine.seeds import get_seed
from evolution.engine.seeds.carry import mean_funding
from evolution.engine.seeds.reversion import rolling_vwap_spread, session_vwap_spread
from evolution.engine.seeds.seed import no_orders
from evolution.engine.seeds.shared_indicators import (
    realized_volatility_by_window,
    rsi_by_period,
)
from tests.evolution.engine import seed_oracles
from tests.evolution.engine.seed_fixtures import START_MS, aligned_funding, random_params
from tests.market_data import load_bars
from trading.engine.indicators import realized_volatility, rsi, vwap_session
from trading.engine.market import Bars, timeframe_ms
from trading.engine.strategy import Signals

SEED_NAMES = sorted(seed_oracles.ORACLES)


def assert_same_signals(actual: Signals, expected: Signals) -> None:
    for name in FIELDS:
        assert_same_values(getattr(actual, name), getattr(expected, name), name)
    assert list(actual.extras) == list(expected.extras)
    for key, values in expected.extras.items():
        assert_same_values(actual.extras[key], values, f"extras[{key}]")


def assert_same_values(actual: object, expected: object, name: str) -> None:
    if expected is None:
        assert actual is None, name
        return
    assert isinstance(actual, np.ndarray), name
    wanted = np.asarray(expected)
    assert actual.dtype == wanted.dtype and actual.shape == wanted.shape, name
    np.testing.assert_array_equal(actual, wanted, err_msg=name)
    # bit for bit too (-0.0 is not 0.0), but a NaN is a NaN whatever its sign bit: which of
    # two NaN operands an addition passes on may differ once it runs in vector lanes
    known = ~np.isnan(wanted) if wanted.dtype.kind == "f" else slice(None)
    assert actual[known].tobytes() == wanted[known].tobytes(), f"{name}: other bits"


def param_sets(name: str, rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
    """`count` random points of the seed's space, then every bound and every choice of
    each parameter (the others random)."""
    space = get_seed(name).param_space
    sets = [random_params(space, rng) for _ in range(count)]
    for param in space:
        if param.kind == "bool":
            extremes: tuple[Any, ...] = (False, True)
        elif param.kind == "categorical":
            extremes = tuple(param.choices)
        else:
            extremes = (param.low, param.high)
        for value in extremes:
            sets.append({**random_params(space, rng), param.name: value})
    return sets


def walk(n: int, rng: np.random.Generator, *, timeframe: str = "1h",
         start_ms: int = START_MS, funding: bool = True) -> Bars:
    """A random walk with random volumes and funding rates."""
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate((close[:1], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    stamps = start_ms + np.arange(n, dtype=np.int64) * timeframe_ms(timeframe)
    rates = rng.normal(0.0001, 0.0004, n) if funding else None
    return Bars.from_arrays(stamps, open_, high, low, close, rng.lognormal(3.0, 1.0, n),
                            timeframe=timeframe, funding_rate=rates)


def edited(bars: Bars, **changes: Any) -> Bars:
    """`bars` with some arrays replaced (a callable gets a copy of the old one to edit)."""
    fields = {name: getattr(bars, name) for name in
              ("timestamps", "open", "high", "low", "close", "volume", "funding_rate")}
    for name, change in changes.items():
        fields[name] = change(np.array(fields[name])) if callable(change) else change
    return Bars(**fields, timeframe=bars.timeframe)


def put(index: Any, value: float):
    def change(values: np.ndarray) -> np.ndarray:
        values[index] = value
        return values
    return change


def synthetic_cases() -> dict[str, Bars]:
    rng = np.random.default_rng(11)
    base = walk(400, rng)
    rates = base.funding_rate
    assert rates is not None
    coarse = edited(base, close=np.round(base.close), high=np.round(base.high) + 1.0,
                    low=np.round(base.low) - 1.0, volume=np.round(base.volume / 20.0),
                    funding_rate=np.round(rates, 4))
    runs = np.repeat(rng.choice([0.0001, -0.0002, 0.0, 0.0003], 40), 10)
    flat = np.full(400, 100.0)
    return {
        "walk": base,
        "leading_nans": edited(base, close=put(slice(0, 20), np.nan), high=put(
            slice(0, 15), np.nan), low=put(slice(0, 9), np.nan), volume=put(
            slice(0, 25), np.nan), funding_rate=put(slice(0, 40), np.nan)),
        "inner_nans": edited(base, close=put([50, 51, 200], np.nan), high=put(90, np.nan),
                             volume=put([60, 300], np.nan),
                             funding_rate=put(slice(100, 130), np.nan)),
        "infinities": edited(base, volume=put([70, 250], np.inf),
                             funding_rate=put([20, 21, 180], np.inf)),
        "zero_close": edited(base, close=put(120, 0.0), low=put(120, 0.0)),
        "flat": edited(base, open=flat, high=flat, low=flat, close=flat,
                       volume=np.ones(400), funding_rate=np.full(400, 0.0001)),
        "zero_volume": edited(base, volume=np.zeros(400)),
        "quiet_stretch": edited(base, volume=put(slice(100, 180), 0.0)),
        "coarse": coarse,
        "funding_runs": edited(base, funding_rate=runs),
        "negative_funding": edited(base, funding_rate=-np.abs(rates)),
        "no_funding": walk(300, rng, funding=False),
        "mid_week_15m": walk(1500, rng, timeframe="15m", start_ms=START_MS + 4 * 86_400_000
                             + 13 * 3_600_000),
        "short": walk(10, rng),
        "three": walk(3, rng),
        "two": walk(2, rng),
        "one": walk(1, rng),
        "empty": walk(0, rng),
    }


def real_cases() -> dict[str, Bars]:
    cases = {}
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        bars = load_bars(symbol, "1h", start="2022-01-01", end="2023-01-01")
        funding = aligned_funding(bars, symbol) if symbol != "SOLUSDT" else None
        cases[symbol] = edited(bars, funding_rate=funding)
    return cases


SYNTHETIC = synthetic_cases()


@pytest.fixture(scope="module")
def real() -> dict[str, Bars]:
    return real_cases()


def check_seed(name: str, bars: Bars, params: list[dict[str, Any]]) -> list[Signals]:
    """`compute_many` of all the parameter sets, and `compute` of each, equal the oracle."""
    seed = get_seed(name)
    # when
    together = seed.compute_many(bars, params)
    # then
    assert len(together) == len(params)
    for p, signals in zip(params, together, strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):  # the former code's warnings
            expected = seed_oracles.ORACLES[name](bars, p)
        assert_same_signals(signals, expected)
        assert_same_signals(seed.compute(bars, p), expected)
    return together


@pytest.mark.parametrize("name", SEED_NAMES)
@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
def test_fast_paths_equal_the_former_code_on_real_bars(name, symbol, real):
    # given: 40 random parameter sets, then every bound and choice
    rng = np.random.default_rng(sum(map(ord, name + symbol)))
    params = param_sets(name, rng, 40)

    # when / then
    together = check_seed(name, real[symbol], params)

    # and the comparison had trades to see
    funded = name == "funding_rate_carry" and real[symbol].funding_rate is not None
    if name in ("rsi_filter", "vwap_reversion") or funded:
        assert sum(int(s.entries.sum()) for s in together) > 100


@pytest.mark.parametrize("name", SEED_NAMES)
@pytest.mark.parametrize("case", sorted(SYNTHETIC))
def test_fast_paths_equal_the_former_code_on_edge_cases(name, case):
    # given
    rng = np.random.default_rng(sum(map(ord, name + case)))

    # when / then
    check_seed(name, SYNTHETIC[case], param_sets(name, rng, 12))


@pytest.mark.parametrize("name", SEED_NAMES)
def test_no_parameter_sets_give_no_signals(name):
    assert get_seed(name).compute_many(SYNTHETIC["walk"], []) == []


# The seeds' shared pieces against the indicators and pandas they stand for.

CLIPPED = [9.335020617737412e-11, 4.978191798158139, 2.5453843851194035e-05, 38.93735973296532,
           55.709351345380185, 680.900065082846, 0.01401681089524281, 1.3150476489878704,
           8.325133483272476e-15, 6.414118658746176e-16]  # pandas clips a mean of these to 0


def funding_series() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    heavy = np.abs(rng.normal(0.0, 1.0, 3000)) ** 8
    signed = rng.normal(0.0001, 0.0004, 3000)
    signed[rng.choice(3000, 200)] = np.nan
    signed[rng.choice(3000, 20)] = np.inf
    signed[rng.choice(3000, 20)] = -np.inf
    signed[rng.choice(3000, 50)] = 0.0
    signed[rng.choice(3000, 50)] = -0.0
    return [np.array(CLIPPED), -np.array(CLIPPED), heavy, -heavy, signed,
            np.repeat(rng.choice([0.0001, -0.0002, 0.1, 1e-9], 300), rng.integers(1, 5, 300)),
            np.full(50, np.nan), np.array([]), np.array([np.inf])]


@pytest.mark.parametrize("window", [1, 2, 3, 4, 7, 24, 500, 5000])
def test_the_mean_funding_is_pandas_rolling_mean_bit_for_bit(window):
    for rates in funding_series():
        # when
        mean = mean_funding(rates, window)
        # then
        assert_same_values(mean, seed_oracles.mean_funding(rates, window), f"window {window}")


@pytest.mark.parametrize("case", sorted(SYNTHETIC))
def test_the_rolling_vwap_std_is_the_pandas_formulas(case):
    bars = SYNTHETIC[case]
    for window in (1, 2, 12, 48, 720):
        # when
        vwap, std = rolling_vwap_spread(bars, window)
        # then
        expected_vwap, expected_std = seed_oracles.rolling_vwap_std(bars, window)
        assert_same_values(vwap, expected_vwap, f"vwap {window}")
        assert_same_values(std, expected_std, f"std {window}")


def test_the_rolling_vwap_std_is_the_pandas_formulas_on_real_bars(real):
    for bars in real.values():
        for window in (12, 37, 168, 720):
            vwap, std = rolling_vwap_spread(bars, window)
            expected_vwap, expected_std = seed_oracles.rolling_vwap_std(bars, window)
            assert_same_values(vwap, expected_vwap, f"vwap {window}")
            assert_same_values(std, expected_std, f"std {window}")


@pytest.mark.parametrize("anchor", ["daily", "weekly"])
@pytest.mark.parametrize("case", ["walk", "leading_nans", "quiet_stretch", "mid_week_15m", "one"])
def test_session_bands_are_vwap_session_s_once_the_session_settles(anchor, case):
    bars = SYNTHETIC[case]
    session_ms = seed_oracles.SESSION_MS[anchor]
    offset_ms = seed_oracles.SESSION_OFFSET_MS[anchor]
    settled = seed_oracles.bars_into_session(bars.timestamps, session_ms, offset_ms) >= 5
    # when
    vwap, std = session_vwap_spread(bars, anchor)
    # then
    for k in (0.0, 0.5, 2.0, 4.0):
        expected, upper, lower = vwap_session(bars.high, bars.low, bars.close, bars.volume,
                                              bars.timestamps, session_ms, k,
                                              offset_ms=offset_ms)
        assert_same_values(vwap, expected, "vwap")
        assert_same_values((vwap + k * std)[settled], upper[settled], f"upper {k}")
        assert_same_values((vwap - k * std)[settled], lower[settled], f"lower {k}")
        assert np.isnan(std[~settled]).all()


def edge_series() -> list[np.ndarray]:
    rng = np.random.default_rng(2)
    walk_ = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 3000)))
    holed = walk_.copy()
    holed[:7], holed[1000], holed[1500:1510], holed[2000] = np.nan, np.nan, 0.0, -1.0
    flat_then_ramp = np.full(500, 50.0)
    flat_then_ramp[200:300] = np.linspace(50.0, 60.0, 100)
    return [walk_, holed, flat_then_ramp, np.round(rng.uniform(1.0, 3.0, 2000), 1),
            *(rng.uniform(1.0, 2.0, n) for n in range(6))]


def test_rsi_by_period_is_rsi_of_each_period():
    for close in edge_series():
        periods = [n for n in (*range(2, 40), 100, len(close), len(close) + 3) if n >= 2]
        # when
        together = rsi_by_period(close, periods)
        # then
        for n in periods:
            assert_same_values(together[n], rsi(close, n), f"rsi {n}")


@pytest.mark.parametrize("periods_per_year", [None, 8760.0, 0.0])
def test_realized_volatility_by_window_is_each_window_s(periods_per_year):
    for close in edge_series():
        windows = [n for n in (2, 3, 5, 24, 100, 168, 999, 1000, len(close) + 1) if n >= 2]
        # when: many windows together, a few, and each alone
        together = realized_volatility_by_window(close, windows, periods_per_year)
        few = realized_volatility_by_window(close, windows[::3], periods_per_year)
        # then
        for n in windows:
            expected = realized_volatility(close, n, periods_per_year)
            assert_same_values(together[n], expected, f"volatility {n}")
            assert_same_values(few.get(n, expected), expected, f"volatility {n} of a few")
            alone = realized_volatility_by_window(close, [n], periods_per_year)[n]
            assert_same_values(alone, expected, f"volatility {n} alone")


def test_filter_exit_and_sizing_blocks_share_one_read_only_no_orders():
    # given
    bars = SYNTHETIC["walk"]
    params = [{"vol_window": 24, "target_vol": 0.5, "max_size": 1.0}] * 2

    # when
    first, second = get_seed("volatility_scaling").compute_many(bars, params)

    # then
    assert not first.entries.any() and not first.exits.any() and len(first.exits) == len(bars)
    assert np.shares_memory(first.entries, second.exits)
    with pytest.raises(ValueError, match="read-only"):
        first.entries[0] = True
    assert not no_orders(len(bars) + 10)[0].flags.writeable


def test_blocks_of_one_funding_window_share_their_read_only_mean():
    # given
    bars = SYNTHETIC["walk"]
    seed = get_seed("funding_rate_carry")
    params = [{**seed.param_space.defaults(), "threshold": t} for t in (0.0001, 0.0003)]

    # when
    first, second = seed.compute_many(bars, params)

    # then
    assert first.extras["mean_funding"] is second.extras["mean_funding"]
    assert not first.extras["mean_funding"].flags.writeable


@pytest.mark.parametrize(("name", "params"), [
    ("rsi_filter", {"period": 1}),
    ("atr_stop_loss", {"atr_period": 0}),
    ("volatility_scaling", {"vol_window": 1}),
    ("vwap_reversion", {"anchor": "daily", "band_k": -1.0}),
    ("vwap_reversion", {"anchor": "rolling", "window": 0}),
    ("funding_rate_carry", {"window": 0}),
])
def test_invalid_parameters_raise_as_before(name, params):
    # given: a valid block, then the invalid one
    seed = get_seed(name)
    bad = {**seed.param_space.defaults(), **params}

    # when / then
    with pytest.raises(ValueError):
        seed_oracles.ORACLES[name](SYNTHETIC["walk"], bad)
    with pytest.raises(ValueError):
        seed.compute_many(SYNTHETIC["walk"], [seed.param_space.defaults(), bad])


def test_session_anchors_refuse_unordered_timestamps_and_rolling_ones_do_not():
    # given
    bars = SYNTHETIC["walk"]
    shuffled = edited(bars, timestamps=bars.timestamps[::-1].copy())
    seed = get_seed("vwap_reversion")
    daily, rolling = ({**seed.param_space.defaults(), "anchor": a} for a in ("daily", "rolling"))

    # when / then
    with pytest.raises(ValueError, match="strictly increasing"):
        seed.compute(shuffled, daily)
    assert_same_signals(seed.compute(shuffled, rolling),
                        seed_oracles.vwap_reversion(shuffled, rolling))
    assert math.isfinite(float(bars.close[0]))
