"""Funding-rate carry on synthetic and real funding rates."""

from __future__ import annotations

import numpy as np

from evolution.engine.seeds import get_seed
from evolution.engine.seeds.carry import mean_funding
from tests.evolution.engine.seed_fixtures import bars_from_closes, real_bars

NORMAL, SQUEEZE, MANIA = 0.0001, -0.001, 0.002


def funded_bars(rates: list[float]):
    return bars_from_closes([100.0] * len(rates), funding_rate=np.asarray(rates))


def test_deeply_negative_funding_opens_a_long_and_normal_funding_closes_it():
    # given: normal funding, a short squeeze setup (shorts pay longs), normal again
    bars = funded_bars([NORMAL] * 50 + [SQUEEZE] * 30 + [NORMAL] * 40)

    # when
    signals = get_seed("funding_rate_carry").signals(
        bars, {"threshold": 0.0003, "window": 8, "exit_ratio": 0.5, "allow_short": False}
    )

    # then: the 8-bar mean is below -0.0003 from the 3rd squeeze bar until 3 bars
    # after it, and back above -0.00015 once 7 of the 8 rates are normal again
    assert np.flatnonzero(signals.entries).tolist() == list(range(52, 85))
    assert not signals.exits[52:86].any() and signals.exits[86:].all()
    assert signals.short_entries is None


def test_high_funding_opens_a_short_that_collects_the_carry():
    # given
    bars = funded_bars([NORMAL] * 50 + [MANIA] * 30 + [NORMAL] * 40)

    # when
    signals = get_seed("funding_rate_carry").signals(bars, {"threshold": 0.0005, "window": 4})

    # then
    assert signals.short_entries is not None and signals.short_exits is not None
    assert np.flatnonzero(signals.short_entries).tolist() == list(range(50, 83))
    assert not signals.entries.any()
    assert signals.short_exits[83:].all() and not signals.short_exits[50:83].any()


def test_normal_funding_opens_nothing():
    # given
    bars = funded_bars([NORMAL] * 200)

    # when
    signals = get_seed("funding_rate_carry").signals(bars, {})

    # then
    assert not signals.entries.any()
    assert signals.short_entries is not None and not signals.short_entries.any()


def test_missing_funding_never_signals():
    # given: no funding series at all, and a series with a hole in the squeeze
    without = bars_from_closes([100.0] * 100)
    rates = np.array([SQUEEZE] * 100)
    rates[40:60] = np.nan
    holed = funded_bars(list(rates))

    # when
    nothing = get_seed("funding_rate_carry").signals(without, {"threshold": 0.0001})
    partial = get_seed("funding_rate_carry").signals(holed, {"threshold": 0.0001, "window": 4})

    # then
    assert not nothing.entries.any() and not nothing.exits.any()
    assert partial.entries[:40].all() and partial.entries[60:].all()
    assert not partial.entries[40:60].any() and not partial.exits[40:60].any()


def test_the_mean_skips_missing_rates_inside_the_window():
    # given
    rates = np.array([0.001, np.nan, 0.003, 0.002])

    # when
    mean = mean_funding(rates, 3)

    # then
    assert np.isnan(mean[1])
    assert mean[2] == 0.002 and mean[3] == 0.0025


def test_real_funding_trades_the_2022_extremes():
    # given: BTC 2022, a year of mostly low funding with negative episodes
    bars = real_bars(start="2022-01-01", end="2023-01-01")

    # when
    signals = get_seed("funding_rate_carry").signals(bars, {"threshold": 0.0001, "window": 24})

    # then: longs only while funding was negative
    assert signals.entries.sum() > 24
    assert bars.funding_rate is not None
    assert (bars.funding_rate[signals.entries] < 0).mean() > 0.9
