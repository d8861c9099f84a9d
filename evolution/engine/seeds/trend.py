"""Trend seeds: EMA crossover (entry), SMA trend filter (filter), Ichimoku cloud (entry).

Guarantees: each value at bar t is computed from bars 0..t only (the indicators
are causal); nothing fires while an indicator is warming up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evolution.engine.seeds.crossings import band_crossings, became_true, exits_without_entries
from evolution.engine.seeds.seed import ALLOW_SHORT, Seed, no_orders
from evolution.engine.seeds.shared_indicators import ema_by_period
from trading.engine.indicators import ichimoku, sma
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals


class EmaCrossover(Seed):
    """EMA crossover: follow the trend when a fast EMA crosses a slow EMA of the close.

    The spread is (fast EMA - slow EMA) / slow EMA. Go long on the bar where the
    spread rises above +band; close the long when it falls below -band. With
    `allow_short`, open a short when the spread falls below -band and cover when
    it rises above +band. `band` = 0 is the classic crossover; a wider band
    ignores whipsaws around the crossing point. The shorter of the two periods
    is the fast line, so every pair in range is meaningful; equal periods never
    cross and never trade.
    """

    name = "ema_crossover"
    title = "EMA crossover"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace(
        (
            Param("fast_period", "int", 9, 2, 50, log=True, description="Fast EMA period (bars)."),
            Param("slow_period", "int", 21, 10, 200, log=True, description="Slow EMA period."),
            Param("band", "float", 0.0, 0.0, 0.02, description="Spread hysteresis (fraction)."),
            ALLOW_SHORT,
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        return self.compute_many(bars, [params])[0]

    def compute_many(self, bars: Bars, params: Sequence[dict[str, Any]]) -> list[Signals]:
        """Every EMA period the parameter sets need computed once, all together."""
        pairs = [sorted((p["fast_period"], p["slow_period"])) for p in params]
        emas = ema_by_period(bars.close, [n for pair in pairs for n in pair])
        return [self._signals(emas[fast_n], emas[slow_n], p)
                for (fast_n, slow_n), p in zip(pairs, params, strict=True)]

    @staticmethod
    def _signals(fast: np.ndarray, slow: np.ndarray, params: dict[str, Any]) -> Signals:
        # the spread (fast - slow) / slow is identically 0 when the periods are equal
        entries, exits = band_crossings(fast, slow, params["band"])
        if not params["allow_short"]:
            return Signals(entries=entries, exits=exits)
        return Signals(
            entries=entries,
            exits=exits,
            short_entries=exits.copy(),
            short_exits=entries.copy(),
        )


class SmaTrendFilter(Seed):
    """SMA trend filter: only trade with the trend of a simple moving average.

    Longs are allowed while the close is above SMA(period) by more than `band`
    (a fraction of the SMA) and, when `slope_bars` > 0, the SMA is higher than it
    was `slope_bars` bars ago. Shorts are allowed in the mirror image: close below
    SMA by more than `band` and, with `slope_bars` > 0, the SMA falling. Nothing is
    allowed while the SMA is warming up. As a filter it opens no trades itself.
    """

    name = "sma_trend_filter"
    title = "SMA trend filter"
    role = "filter"
    roles = ("filter",)
    param_space = ParamSpace(
        (
            Param("period", "int", 100, 10, 400, log=True, description="SMA period (bars)."),
            Param("slope_bars", "int", 0, 0, 48, description="SMA must rise over this many bars."),
            Param("band", "float", 0.0, 0.0, 0.03, description="Distance from the SMA (fraction)."),
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
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


class IchimokuCloud(Seed):
    """Ichimoku cloud: trade when price clears the cloud with momentum behind it.

    Bullish state: close above the cloud (above both senkou spans, as known at the
    bar) and tenkan-sen above kijun-sen. Go long on the bar the bullish state
    begins. Close the long when the close falls below the kijun-sen
    (`exit_rule` = "kijun", the faster exit) or below the cloud bottom
    (`exit_rule` = "cloud"). With `allow_short` the bearish mirror image (close
    below the cloud, tenkan below kijun) opens shorts, covered above the kijun or
    the cloud top.
    """

    name = "ichimoku_cloud"
    title = "Ichimoku cloud"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace(
        (
            Param("tenkan", "int", 9, 5, 30, description="Conversion line period (bars)."),
            Param("kijun", "int", 26, 15, 80, description="Base line period (bars)."),
            Param("senkou_b", "int", 52, 30, 160, description="Leading span B period (bars)."),
            Param("exit_rule", "categorical", "kijun", choices=("kijun", "cloud")),
            ALLOW_SHORT,
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
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
