"""Donchian breakout on synthetic series (the Donchian lesson as a test)."""

from __future__ import annotations

import numpy as np

from evolution.engine.seeds import get_seed
from tests.evolution.engine.seed_fixtures import bars_from_closes, flat_bars


def test_flat_then_rising_prices_break_out_on_every_new_high():
    # given: the reference check — 20 flat bars, then 101..120
    bars = bars_from_closes([100.0] * 20 + list(range(101, 121)))

    # when
    signals = get_seed("donchian_breakout").signals(
        bars, {"entry_period": 10, "breakout_threshold": 0.001}
    )

    # then: a channel that excluded the current bar lets every rising bar break out
    assert np.flatnonzero(signals.entries).tolist() == list(range(20, 40))
    assert not signals.exits.any()


def test_flat_prices_never_break_out():
    # when
    signals = get_seed("donchian_breakout").signals(
        flat_bars(200), {"breakout_threshold": 0.0, "allow_short": True}
    )

    # then
    assert not signals.entries.any() and not signals.exits.any()
    assert signals.short_entries is not None and not signals.short_entries.any()


def test_the_threshold_filters_small_pokes_above_the_channel():
    # given: a 0.5% poke above a flat range
    bars = bars_from_closes([100.0] * 30 + [100.5] + [100.0] * 5)

    # when
    loose = get_seed("donchian_breakout").signals(bars, {"breakout_threshold": 0.001})
    strict = get_seed("donchian_breakout").signals(bars, {"breakout_threshold": 0.01})

    # then
    assert np.flatnonzero(loose.entries).tolist() == [30]
    assert not strict.entries.any()


def test_a_break_of_the_exit_channel_closes_the_long_and_shorts_mirror():
    # given: flat, a rally, then a collapse below the prior lows
    closes = [100.0] * 30 + [101.0 + i for i in range(10)] + [90.0 - i for i in range(10)]
    bars = bars_from_closes(closes)

    # when
    signals = get_seed("donchian_breakout").signals(
        bars, {"entry_period": 20, "exit_period": 5, "allow_short": True}
    )

    # then
    assert np.flatnonzero(signals.exits)[0] == 40
    assert signals.short_entries is not None and signals.short_exits is not None
    assert np.flatnonzero(signals.short_entries)[0] == 40
    assert np.flatnonzero(signals.short_exits)[0] == 30  # the rally breaks the 5-bar high
