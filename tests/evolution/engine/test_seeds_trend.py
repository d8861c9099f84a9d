"""Trend seeds on synthetic series: EMA crossover, SMA trend filter, Ichimoku cloud."""

from __future__ import annotations

import numpy as np

from evolution.engine.seeds import get_seed
from tests.evolution.engine.seed_fixtures import bars_from_closes

FLAT = [100.0] * 80
RISE = [100.0 + i for i in range(1, 61)]
FALL = [160.0 - 2 * i for i in range(1, 41)]


def test_ema_cross_up_enters_and_cross_down_exits():
    # given: flat, then rising, then falling prices
    bars = bars_from_closes(FLAT + RISE + FALL)

    # when
    signals = get_seed("ema_crossover").signals(bars, {"fast_period": 5, "slow_period": 20})

    # then: one entry on the first rising bar, one exit after the turn
    assert np.flatnonzero(signals.entries).tolist() == [80]
    exits = np.flatnonzero(signals.exits)
    assert len(exits) == 1 and 140 < exits[0] < 150
    assert signals.short_entries is None


def test_ema_band_waits_for_a_wider_spread():
    # given
    bars = bars_from_closes(FLAT + RISE)

    # when
    plain = get_seed("ema_crossover").signals(bars, {"fast_period": 5, "slow_period": 20})
    banded = get_seed("ema_crossover").signals(
        bars, {"fast_period": 5, "slow_period": 20, "band": 0.01}
    )

    # then
    assert np.flatnonzero(banded.entries)[0] > np.flatnonzero(plain.entries)[0]


def test_ema_shorts_mirror_the_longs_and_periods_may_come_in_any_order():
    # given
    bars = bars_from_closes(FLAT + RISE + FALL)

    # when
    ordered = get_seed("ema_crossover").signals(
        bars, {"fast_period": 5, "slow_period": 20, "allow_short": True}
    )
    swapped = get_seed("ema_crossover").signals(
        bars, {"fast_period": 20, "slow_period": 10, "allow_short": True}
    )
    equal = get_seed("ema_crossover").signals(bars, {"fast_period": 15, "slow_period": 15})

    # then
    assert ordered.short_entries is not None and ordered.short_exits is not None
    assert np.array_equal(ordered.short_entries, ordered.exits)
    assert np.array_equal(ordered.short_exits, ordered.entries)
    assert swapped.entries.any() and swapped.exits.any()
    assert not equal.entries.any() and not equal.exits.any()


def test_sma_filter_allows_longs_above_a_rising_average_only():
    # given: a long rise then a long fall
    closes = [100.0 + i for i in range(150)] + [249.0 - i for i in range(150)]
    bars = bars_from_closes(closes)

    # when
    signals = get_seed("sma_trend_filter").signals(bars, {"period": 50})

    # then
    allow, allow_short = signals.extras["allow"], signals.extras["allow_short"]
    assert not allow[:49].any()  # warming up
    assert allow[60:150].all() and not allow_short[60:150].any()
    assert allow_short[200:].all() and not allow[200:].any()
    assert not signals.entries.any() and not signals.exits.any()


def test_sma_slope_blocks_a_bounce_against_a_falling_average():
    # given: a long decline, then a sharp bounce above the (still falling) SMA
    closes = [200.0 - i for i in range(100)] + [100.0 + 5 * i for i in range(1, 8)]
    bars = bars_from_closes(closes)

    # when
    level_only = get_seed("sma_trend_filter").signals(bars, {"period": 30})
    with_slope = get_seed("sma_trend_filter").signals(bars, {"period": 30, "slope_bars": 10})

    # then
    assert level_only.extras["allow"][-1]
    assert not with_slope.extras["allow"][-1]


def test_ichimoku_enters_once_price_clears_the_cloud():
    # given: a long flat base, then a steady rally, then a slide
    closes = (
        [100.0] * 120 + [100.0 + 0.5 * i for i in range(1, 81)] + [140.0 - i for i in range(1, 61)]
    )
    bars = bars_from_closes(closes, spread=0.002)
    params = {"tenkan": 9, "kijun": 26, "senkou_b": 52}

    # when
    signals = get_seed("ichimoku_cloud").signals(bars, params)

    # then: one long entry early in the rally, an exit early in the slide
    entries, exits = np.flatnonzero(signals.entries), np.flatnonzero(signals.exits)
    assert len(entries) == 1 and 120 < entries[0] < 130
    assert len(exits) >= 1 and 200 < exits[0] < 215


def test_ichimoku_shorts_a_breakdown_below_the_cloud():
    # given
    closes = [100.0] * 120 + [100.0 - 0.5 * i for i in range(1, 81)]
    bars = bars_from_closes(closes, spread=0.002)

    # when
    signals = get_seed("ichimoku_cloud").signals(bars, {"allow_short": True, "exit_rule": "cloud"})

    # then
    assert signals.short_entries is not None
    assert not signals.entries.any()
    assert len(np.flatnonzero(signals.short_entries)) == 1
