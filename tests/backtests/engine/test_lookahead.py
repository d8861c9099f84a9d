"""The lookahead check catches strategies that read future bars, and passes honest ones."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from backtests.engine.lookahead import check_lookahead
from backtests.engine.strategies import list_strategies
from trading.engine.indicators import donchian
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals

SPACE = ParamSpace((Param("n", "int", 20, low=2, high=200),))


class LeakyDonchianBreakout:
    """Breakout of a channel computed with the wrong shift: it includes the NEXT bar.

    `rolling(n).max().shift(-1)` at bar t covers bars t-n+2..t+1, so the signal
    at t's close already knows bar t+1's high and low.
    """

    name = "leaky_donchian"
    description = "deliberately leaky"
    param_space = SPACE

    def signals(self, bars: Bars, params: Mapping[str, Any]) -> Signals:
        n = params["n"]
        upper = pd.Series(bars.high).rolling(n).max().shift(-1).to_numpy()
        lower = pd.Series(bars.low).rolling(n).min().shift(-1).to_numpy()
        middle = (upper + lower) / 2
        return Signals(entries=bars.close > middle, exits=bars.close < middle)


class HonestDonchianBreakout:
    """The same idea on the channel of the n bars before t (trading.engine.indicators)."""

    name = "honest_donchian"
    description = "no lookahead"
    param_space = SPACE

    def signals(self, bars: Bars, params: Mapping[str, Any]) -> Signals:
        upper, lower, _ = donchian(bars.high, bars.low, params["n"])
        return Signals(entries=bars.close > upper, exits=bars.close < lower)


class NextClosePeeker:
    """Buys when the next close will be higher: reads close[t + 1]."""

    name = "next_close_peeker"
    description = "deliberately leaky"
    param_space = ParamSpace(())

    def signals(self, bars: Bars, params: Mapping[str, Any]) -> Signals:
        ahead = np.append(bars.close[1:], np.nan)
        return Signals(entries=ahead > bars.close, exits=ahead < bars.close)


def test_a_channel_that_includes_the_next_bar_is_caught(btc_2022):
    # given a Donchian breakout whose channel includes the bar after the signal
    # when checked on real data
    report = check_lookahead(LeakyDonchianBreakout(), btc_2022, {"n": 20}, n_cuts=20)
    # then it fails, and every offence is the last bar the truncated run saw
    assert not report.passed
    assert report.offences
    assert all(o.bar == o.cut - 1 for o in report.offences)
    assert {o.field for o in report.offences} <= {"entries", "exits"}
    assert report.offending_bars == sorted({o.cut - 1 for o in report.offences})
    json.dumps(report.to_dict(), allow_nan=False)


def test_reading_the_next_close_is_caught(btc_2022):
    report = check_lookahead(NextClosePeeker(), btc_2022, n_cuts=20, seed=3)
    assert not report.passed
    assert len({o.cut for o in report.offences}) >= 5
    offence = report.offences[0]
    assert offence.timestamp == int(btc_2022.timestamps[offence.bar])


def test_the_honest_channel_passes(btc_2022):
    report = check_lookahead(HonestDonchianBreakout(), btc_2022, {"n": 20}, n_cuts=20)
    assert report.passed and not report.offences
    assert len(report.cut_points) >= 20


def test_every_shipped_strategy_passes_on_real_data(btc_2022):
    # The evolution seeds join this registry when Django starts; they have their own
    # (ML-aware) lookahead tests in tests/evolution/engine/test_seeds_lookahead.py.
    shipped = [s for s in list_strategies() if type(s).__module__.startswith("backtests.")]
    assert {s.name for s in shipped} >= {"sma_crossover", "rsi_mean_reversion"}
    for strategy in shipped:
        report = check_lookahead(strategy, btc_2022, strategy.param_space.defaults(),
                                 n_cuts=25, min_bars=300)
        assert report.passed, (strategy.name, report.offences[:3])
