"""Oscillator seeds on synthetic series: RSI filter/entry and Stochastic oscillator."""

from __future__ import annotations

import numpy as np

from evolution.engine.seeds import get_seed
from tests.evolution.engine.seed_fixtures import bars_from_closes

ZIGZAG = [100.0 + (0.5 if i % 2 else 0.0) for i in range(60)]  # RSI hovers near 50
DIP = [ZIGZAG[-1] - 2.0 * i for i in range(1, 11)]  # RSI 26 at bar 62, 9.6 at bar 69
RECOVERY = [DIP[-1] + 2.0 * i for i in range(1, 31)]  # RSI 34.9 at bar 72, 72.0 at bar 81


def test_an_oversold_dip_triggers_an_rsi_entry_and_overbought_exits():
    # given
    bars = bars_from_closes(ZIGZAG + DIP + RECOVERY)

    # when
    on_turn = get_seed("rsi_filter").signals(bars, {})
    on_dip = get_seed("rsi_filter").signals(bars, {"entry_trigger": "enter_oversold"})

    # then: entering the zone fires at once, leaving it waits for the turn
    assert np.flatnonzero(on_dip.entries).tolist() == [62]
    assert np.flatnonzero(on_turn.entries).tolist() == [72]
    assert np.flatnonzero(on_turn.exits).tolist() == [81]


def test_rsi_stays_quiet_while_price_chops_sideways():
    # given
    bars = bars_from_closes(ZIGZAG * 3)

    # when
    signals = get_seed("rsi_filter").signals(bars, {"allow_short": True})

    # then
    assert not signals.entries.any() and not signals.exits.any()
    assert signals.short_entries is not None and not signals.short_entries.any()


def test_rsi_guard_blocks_longs_in_overbought_markets():
    # given
    bars = bars_from_closes(ZIGZAG + DIP + RECOVERY)

    # when
    allow = get_seed("rsi_filter").signals(bars, {}).extras["allow"]
    allow_short = get_seed("rsi_filter").signals(bars, {}).extras["allow_short"]

    # then
    assert not allow[:14].any()  # warming up: nothing is allowed
    assert allow[14:81].all() and not allow[81:].any()
    assert not allow_short[62:72].any() and allow_short[72:].all()


def test_rsi_shorts_an_overbought_spike():
    # given: the mirror image of the dip
    mirrored = [200.0 - c for c in ZIGZAG + DIP + RECOVERY]
    bars = bars_from_closes(mirrored)

    # when
    signals = get_seed("rsi_filter").signals(bars, {"allow_short": True})

    # then
    assert signals.short_entries is not None and signals.short_exits is not None
    assert np.flatnonzero(signals.short_entries).tolist() == [72]
    assert np.flatnonzero(signals.short_exits).tolist() == [81]


def sine_bars(periods: int = 6, length: int = 40):
    t = np.arange(periods * length)
    return bars_from_closes(100.0 + 10.0 * np.sin(2 * np.pi * t / length), spread=0.002), t


def test_stochastic_buys_troughs_and_sells_peaks():
    # given: a clean oscillation
    bars, _ = sine_bars()
    close = bars.close

    # when
    signals = get_seed("stochastic_oscillator").signals(bars, {"k_period": 14})

    # then: an entry each cycle, always in the lower part of the swing
    entries, exits = np.flatnonzero(signals.entries), np.flatnonzero(signals.exits)
    assert len(entries) >= 4 and len(exits) >= 4
    assert (close[entries] < 97.0).all()
    assert (close[exits] > 103.0).all()


def test_stochastic_any_cross_exits_sooner_and_shorts_mirror():
    # given
    bars, _ = sine_bars()

    # when
    slow = get_seed("stochastic_oscillator").signals(bars, {})
    fast = get_seed("stochastic_oscillator").signals(
        bars, {"exit_rule": "any_cross", "allow_short": True}
    )

    # then
    assert fast.exits.sum() >= slow.exits.sum()
    assert fast.short_entries is not None
    assert len(np.flatnonzero(fast.short_entries)) >= 4
    assert (bars.close[fast.short_entries] > 103.0).all()


def test_stochastic_stays_quiet_in_a_steady_trend():
    # given: a market that only rises (the close always at the top of its range)
    bars = bars_from_closes([100.0 + i for i in range(200)], spread=0.001)

    # when
    signals = get_seed("stochastic_oscillator").signals(bars, {"allow_short": True})

    # then
    assert not signals.entries.any()
    assert signals.short_entries is not None and not signals.short_entries.any()
