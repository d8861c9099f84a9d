"""The one-block code the fast seed paths replaced, kept as their oracle.

Each function is the seed's former `compute`, written with the plain indicators of
`trading.engine.indicators` (and pandas, where the seed used it): the fast
`compute_many` / `compute` must give these signals bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from evolution.engine.seeds.crossings import crossed_above, crossed_below, exits_without_entries
from trading.engine.indicators import atr, realized_volatility, rsi, vwap_rolling, vwap_session
from trading.engine.market import Bars, periods_per_year
from trading.engine.strategy import Signals

DAY_MS = 86_400_000
SESSION_MS = {"daily": DAY_MS, "weekly": 7 * DAY_MS}
SESSION_OFFSET_MS = {"daily": 0, "weekly": 4 * DAY_MS}
MIN_SESSION_BARS = 6


def no_orders(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)


def rsi_filter(bars: Bars, params: dict[str, Any]) -> Signals:
    strength = rsi(bars.close, params["period"])
    low, high = params["oversold"], params["overbought"]
    if params["entry_trigger"] == "leave_oversold":
        entries, short_entries = crossed_above(strength, low), crossed_below(strength, high)
    else:
        entries, short_entries = crossed_below(strength, low), crossed_above(strength, high)
    exits = exits_without_entries(crossed_above(strength, high), entries)
    short_exits = exits_without_entries(crossed_below(strength, low), short_entries)
    extras = {"allow": strength < high, "allow_short": strength > low}
    if not params["allow_short"]:
        return Signals(entries=entries, exits=exits, extras=extras)
    return Signals(entries=entries, exits=exits, short_entries=short_entries,
                   short_exits=short_exits, extras=extras)


def atr_stop_loss(bars: Bars, params: dict[str, Any]) -> Signals:
    range_fraction = atr(bars.high, bars.low, bars.close, params["atr_period"]) / bars.close
    stop = params["stop_mult"] * range_fraction
    stop[~(stop > 0)] = np.nan
    take_profit = None
    if params["take_profit_mult"] > 0:
        take_profit = params["take_profit_mult"] * range_fraction
        take_profit[~(take_profit > 0)] = np.nan
    entries, exits = no_orders(len(bars))
    trailing = params["stop_type"] == "trailing"
    return Signals(entries=entries, exits=exits, sl_stop=None if trailing else stop,
                   tsl_stop=stop if trailing else None, tp_stop=take_profit)


def volatility_scaling(bars: Bars, params: dict[str, Any]) -> Signals:
    vol = realized_volatility(bars.close, params["vol_window"], periods_per_year(bars.timeframe))
    max_size = params["max_size"]
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.minimum(params["target_vol"] / vol, max_size)
    size[vol == 0] = max_size
    entries, exits = no_orders(len(bars))
    return Signals(entries=entries, exits=exits, size=size)


def bars_into_session(timestamps: np.ndarray, session_ms: int, offset_ms: int) -> np.ndarray:
    session = (np.asarray(timestamps, dtype=np.int64) - offset_ms) // session_ms
    index = np.arange(len(session))
    starts = np.ones(len(session), dtype=bool)
    starts[1:] = session[1:] != session[:-1]
    return index - np.maximum.accumulate(np.where(starts, index, 0))


def rolling_vwap_std(bars: Bars, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The rolling VWAP and its std (the band width for k = 1)."""
    vwap = vwap_rolling(bars.high, bars.low, bars.close, bars.volume, window)
    typical = (bars.high + bars.low + bars.close) / 3.0
    anchor = typical[0] if len(typical) else 0.0
    weight = pd.Series(bars.volume).rolling(window).sum().to_numpy()
    second = pd.Series(bars.volume * (typical - anchor) ** 2).rolling(window).sum().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return vwap, np.sqrt(np.maximum(second / weight - (vwap - anchor) ** 2, 0.0))


def rolling_vwap_bands(bars: Bars, window: int, k: float) -> tuple[np.ndarray, ...]:
    vwap, std = rolling_vwap_std(bars, window)
    width = k * std
    return vwap, vwap + width, vwap - width


def session_vwap_bands(bars: Bars, anchor: str, k: float) -> tuple[np.ndarray, ...]:
    session_ms, offset_ms = SESSION_MS[anchor], SESSION_OFFSET_MS[anchor]
    vwap, upper, lower = vwap_session(bars.high, bars.low, bars.close, bars.volume,
                                      bars.timestamps, session_ms, k, offset_ms=offset_ms)
    unsettled = bars_into_session(bars.timestamps, session_ms, offset_ms) < MIN_SESSION_BARS - 1
    upper[unsettled] = np.nan
    lower[unsettled] = np.nan
    return vwap, upper, lower


def vwap_reversion(bars: Bars, params: dict[str, Any]) -> Signals:
    if params["anchor"] == "rolling":
        vwap, upper, lower = rolling_vwap_bands(bars, params["window"], params["band_k"])
    else:
        vwap, upper, lower = session_vwap_bands(bars, params["anchor"], params["band_k"])
    close = bars.close
    entries, exits = crossed_below(close, lower), close >= vwap
    if not params["allow_short"]:
        return Signals(entries=entries, exits=exits)
    return Signals(entries=entries, exits=exits, short_entries=crossed_above(close, upper),
                   short_exits=close <= vwap)


def mean_funding(funding_rate: np.ndarray, window: int) -> np.ndarray:
    rate = np.asarray(funding_rate, dtype=np.float64)
    mean = pd.Series(rate).rolling(window, min_periods=1).mean().to_numpy(copy=True)
    mean[~np.isfinite(rate)] = np.nan
    return mean


def funding_rate_carry(bars: Bars, params: dict[str, Any]) -> Signals:
    if bars.funding_rate is None:
        entries, exits = no_orders(len(bars))
        return Signals(entries=entries, exits=exits)
    mean = mean_funding(bars.funding_rate, params["window"])
    threshold = params["threshold"]
    exit_level = threshold * params["exit_ratio"]
    entries, exits = mean < -threshold, mean > -exit_level
    if not params["allow_short"]:
        return Signals(entries=entries, exits=exits, extras={"mean_funding": mean})
    return Signals(entries=entries, exits=exits, short_entries=mean > threshold,
                   short_exits=mean < exit_level, extras={"mean_funding": mean})


ORACLES: dict[str, Callable[[Bars, dict[str, Any]], Signals]] = {
    "rsi_filter": rsi_filter,
    "atr_stop_loss": atr_stop_loss,
    "volatility_scaling": volatility_scaling,
    "vwap_reversion": vwap_reversion,
    "funding_rate_carry": funding_rate_carry,
}
