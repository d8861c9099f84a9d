"""VWAP reversion on synthetic series."""

from __future__ import annotations

import numpy as np

from evolution.engine.seeds import get_seed
from evolution.engine.seeds.reversion import SESSION_OFFSET_MS
from tests.evolution.engine.seed_fixtures import bars_from_closes
from tests.evolution.engine.seed_oracles import bars_into_session

CHOP = list(100.0 + 0.3 * np.sin(2 * np.pi * np.arange(48) / 6))  # two quiet days around 100


def stretched(day_hour: int, depth: float) -> list[float]:
    """Two quiet days, then on day three a plunge at `day_hour` and a recovery."""
    day = CHOP[:24]
    plunge = day[:day_hour] + [100.0 - depth] * 2 + [100.5] * 3
    return CHOP + plunge + day[: 24 - len(plunge)]


def test_a_stretch_below_the_rolling_band_is_bought_and_sold_back_at_vwap():
    # given
    bars = bars_from_closes(stretched(12, 3.0), spread=0.001)

    # when
    signals = get_seed("vwap_reversion").signals(
        bars, {"anchor": "rolling", "window": 24, "band_k": 2.0}
    )

    # then
    assert np.flatnonzero(signals.entries).tolist() == [60]
    assert np.flatnonzero(signals.exits)[np.flatnonzero(signals.exits) > 60][0] == 62


def test_a_stretch_below_the_daily_vwap_band_is_bought():
    # given: bars start at midnight UTC, the plunge comes at noon of day three
    bars = bars_from_closes(stretched(12, 3.0), spread=0.001)

    # when
    signals = get_seed("vwap_reversion").signals(bars, {"anchor": "daily", "band_k": 2.0})

    # then
    assert np.flatnonzero(signals.entries).tolist() == [60]


def test_a_plunge_at_the_session_open_is_not_traded():
    # given: the same plunge in the first hour of the day, when the daily band is still noise
    bars = bars_from_closes(stretched(1, 3.0), spread=0.001)

    # when
    daily = get_seed("vwap_reversion").signals(bars, {"anchor": "daily"})

    # then
    assert not daily.entries[48:52].any()


def test_small_wiggles_inside_the_band_are_ignored_and_shorts_mirror():
    # given
    bars = bars_from_closes(stretched(12, 3.0), spread=0.001)
    mirrored = bars_from_closes([200.0 - c for c in stretched(12, 3.0)], spread=0.001)

    # when
    quiet = get_seed("vwap_reversion").signals(
        bars_from_closes(CHOP * 3, spread=0.001), {"anchor": "rolling", "window": 24}
    )
    short = get_seed("vwap_reversion").signals(
        mirrored, {"anchor": "rolling", "window": 24, "allow_short": True}
    )

    # then
    assert not quiet.entries.any()
    assert short.short_entries is not None
    assert np.flatnonzero(short.short_entries).tolist() == [60]
    assert not short.entries.any()
    assert len(bars) == len(mirrored)


def test_no_volume_means_no_vwap_and_no_signal():
    # given
    bars = bars_from_closes(stretched(12, 3.0), spread=0.001, volume=0.0)

    # when
    for anchor in ("daily", "weekly", "rolling"):
        signals = get_seed("vwap_reversion").signals(bars, {"anchor": anchor})
        # then
        assert not signals.entries.any() and not signals.exits.any()


def test_weekly_sessions_start_on_monday_midnight_utc():
    # given: hourly stamps from Saturday 2022-01-01 00:00 UTC
    stamps = 1_640_995_200_000 + np.arange(24 * 9, dtype=np.int64) * 3_600_000

    # when
    position = bars_into_session(stamps, 7 * 86_400_000, SESSION_OFFSET_MS["weekly"])

    # then: Monday 2022-01-03 00:00 is bar 48
    assert position[47] == 47 and position[48] == 0 and position[-1] == 24 * 9 - 49
