"""Oscillator seeds: RSI filter (filter or entry) and Stochastic oscillator (entry).

Guarantees: values at bar t read bars 0..t only; nothing fires or is allowed
while the oscillator is warming up (NaN comparisons are False).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evolution.engine.seeds.crossings import zone_events
from evolution.engine.seeds.extremes import stochastic_blocks
from evolution.engine.seeds.indicator_memo import SeriesMemo
from evolution.engine.seeds.seed import ALLOW_SHORT, Seed, event_signals
from evolution.engine.seeds.shared_indicators import rsi_by_period
from trading.engine.indicators.inputs import as_series, check_period
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals


class RsiFilter(Seed):
    """RSI filter: an overbought/oversold guard that can also buy oversold dips.

    As a filter (`extras["allow"]`): longs are allowed while RSI(period) is below
    `overbought` (never buy into an overbought market); shorts
    (`extras["allow_short"]`) while RSI is above `oversold`.
    As an entry (mean reversion): go long on an oversold dip, either on the bar
    RSI falls below `oversold` (`entry_trigger` = "enter_oversold") or on the bar
    it climbs back above it (`entry_trigger` = "leave_oversold", waits for the
    turn). Close the long when RSI crosses above `overbought`. With
    `allow_short` the mirror image shorts overbought spikes and covers when RSI
    crosses below `oversold`.
    """

    name = "rsi_filter"
    title = "RSI filter"
    role = "filter"
    roles = ("filter", "entry")
    param_space = ParamSpace(
        (
            Param("period", "int", 14, 5, 30, description="RSI period (bars)."),
            Param("oversold", "float", 30.0, 15.0, 40.0, description="Oversold level."),
            Param("overbought", "float", 70.0, 60.0, 85.0, description="Overbought level."),
            Param(
                "entry_trigger",
                "categorical",
                "leave_oversold",
                choices=("leave_oversold", "enter_oversold"),
                description="Enter as RSI leaves the oversold zone, or as it enters it.",
            ),
            ALLOW_SHORT,
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        return self.compute_many(bars, [params])[0]

    def compute_many(
        self, bars: Bars, params: Sequence[dict[str, Any]], memo: SeriesMemo | None = None
    ) -> list[Signals]:
        """Each RSI period the parameter sets need computed once, all together (or taken
        from the memo)."""
        periods = [p["period"] for p in params]

        def compute(some: list[int]) -> dict[int, np.ndarray]:
            return rsi_by_period(bars.close, some)

        strengths = compute(periods) if memo is None else memo.rows("rsi", periods, compute)
        return [self._signals(strengths[p["period"]], p) for p in params]

    @staticmethod
    def _signals(strength: np.ndarray, params: dict[str, Any]) -> Signals:
        # a one-bar jump from oversold to overbought would both enter and exit: entry wins
        entries, exits, short_entries, short_exits, allow, allow_short = zone_events(
            strength,
            float(params["oversold"]),
            float(params["overbought"]),
            params["entry_trigger"] == "leave_oversold",
            bool(params["allow_short"]),
        )
        extras = {"allow": allow, "allow_short": allow_short}
        if not params["allow_short"]:
            return Signals(entries=entries, exits=exits, extras=extras)
        return Signals(
            entries=entries,
            exits=exits,
            short_entries=short_entries,
            short_exits=short_exits,
            extras=extras,
        )


class StochasticOscillator(Seed):
    """Stochastic oscillator: buy momentum turning up from an oversold close.

    %K is where the close sits in the high-low range of the last `k_period`
    bars (smoothed over `smooth_k`), %D its `d_period` average. Go long when %K
    crosses above %D while %D is below `oversold`. Close the long when %K crosses
    below %D: only while %D is above `overbought` (`exit_rule` =
    "overbought_cross") or at any level (`exit_rule` = "any_cross", the faster
    exit). With `allow_short` the mirror image shorts a downward cross while %D
    is above `overbought`, covered on the upward cross while %D is below
    `oversold` ("overbought_cross") or at any level ("any_cross").
    """

    name = "stochastic_oscillator"
    title = "Stochastic oscillator"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace(
        (
            Param("k_period", "int", 14, 5, 40, description="%K lookback (bars)."),
            Param("smooth_k", "int", 3, 1, 5, description="%K smoothing (bars)."),
            Param("d_period", "int", 3, 2, 7, description="%D smoothing (bars)."),
            Param("oversold", "float", 20.0, 5.0, 35.0, description="Oversold level."),
            Param("overbought", "float", 80.0, 65.0, 95.0, description="Overbought level."),
            Param(
                "exit_rule",
                "categorical",
                "overbought_cross",
                choices=("overbought_cross", "any_cross"),
            ),
            ALLOW_SHORT,
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        return self.compute_many(bars, [params])[0]

    def compute_many(
        self, bars: Bars, params: Sequence[dict[str, Any]], memo: SeriesMemo | None = None
    ) -> list[Signals]:
        """Each fast %K, slow %K and %D computed once for the blocks that share it, from
        one table of the highs and one of the lows (`extremes.stochastic_blocks`)."""
        settings = np.array(
            [(check_period(p["k_period"], "k"), check_period(p["smooth_k"], "smooth_k"),
              check_period(p["d_period"], "d"), p["oversold"], p["overbought"],
              p["exit_rule"] == "any_cross", bool(p["allow_short"])) for p in params],
            dtype=np.float64,
        ).reshape(len(params), 7)
        blocks = stochastic_blocks(as_series(bars.close, "close"), as_series(bars.high, "high"),
                                   as_series(bars.low, "low"), settings)
        return [event_signals(rows) for rows in blocks]
