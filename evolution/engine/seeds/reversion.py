"""Reversion seed: VWAP reversion (entry).

Guarantees: the VWAP and its bands at bar t use bars up to and including t
(a session VWAP restarts at each UTC day or week); values at t read bars 0..t
only; no signal where no volume has traded (VWAP undefined).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evolution.engine.seeds.crossings import crossed_above, crossed_below
from evolution.engine.seeds.seed import ALLOW_SHORT, Seed
from trading.engine.indicators import vwap_rolling, vwap_session
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals

DAY_MS = 86_400_000
SESSION_MS = {"daily": DAY_MS, "weekly": 7 * DAY_MS}
# sessions start at 00:00 UTC; weeks on Monday (the epoch, 1970-01-01, was a Thursday)
SESSION_OFFSET_MS = {"daily": 0, "weekly": 4 * DAY_MS}
MIN_SESSION_BARS = 6  # bars a session needs (current included) before its bands trade


def bars_into_session(timestamps: np.ndarray, session_ms: int, offset_ms: int) -> np.ndarray:
    """0 for a session's first bar, 1 for its second, ... (sessions as in `vwap_session`)."""
    session = (np.asarray(timestamps, dtype=np.int64) - offset_ms) // session_ms
    index = np.arange(len(session))
    starts = np.ones(len(session), dtype=bool)
    starts[1:] = session[1:] != session[:-1]
    return index - np.maximum.accumulate(np.where(starts, index, 0))


def rolling_vwap_bands(bars: Bars, window: int, k: float) -> tuple[np.ndarray, ...]:
    """(vwap, upper, lower) over the last `window` bars; bands k volume-weighted std away."""
    vwap = vwap_rolling(bars.high, bars.low, bars.close, bars.volume, window)
    typical = (bars.high + bars.low + bars.close) / 3.0
    anchor = typical[0] if len(typical) else 0.0  # centring keeps E[x^2] - E[x]^2 accurate
    weight = pd.Series(bars.volume).rolling(window).sum().to_numpy()
    second = pd.Series(bars.volume * (typical - anchor) ** 2).rolling(window).sum().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.maximum(second / weight - (vwap - anchor) ** 2, 0.0)
    width = k * np.sqrt(variance)
    return vwap, vwap + width, vwap - width


def session_vwap_bands(bars: Bars, anchor: str, k: float) -> tuple[np.ndarray, ...]:
    """(vwap, upper, lower) of the current UTC day or week; bands NaN in a session's first bars."""
    session_ms, offset_ms = SESSION_MS[anchor], SESSION_OFFSET_MS[anchor]
    vwap, upper, lower = vwap_session(
        bars.high,
        bars.low,
        bars.close,
        bars.volume,
        bars.timestamps,
        session_ms,
        k,
        offset_ms=offset_ms,
    )
    # a session's first bars have a near-zero spread: bands there are noise
    unsettled = bars_into_session(bars.timestamps, session_ms, offset_ms) < MIN_SESSION_BARS - 1
    upper[unsettled] = np.nan
    lower[unsettled] = np.nan
    return vwap, upper, lower


class VwapReversion(Seed):
    """VWAP reversion: fade stretches away from the volume-weighted average price.

    The VWAP of the typical price (h+l+c)/3 is anchored per UTC day or week
    (`anchor` = "daily" / "weekly", restarting each session) or taken over the
    last `window` bars (`anchor` = "rolling"); the bands sit `band_k`
    volume-weighted standard deviations either side. Go long on the bar the
    close falls below the lower band (price stretched below fair value) and
    close the long when the close is back at or above the VWAP. With
    `allow_short`, a close rising above the upper band opens a short, covered at
    or below the VWAP. No volume means no VWAP and no signal; a session's bands
    need six bars of that session before they can open a trade (before that the
    spread is a few bars' noise).
    """

    name = "vwap_reversion"
    title = "VWAP reversion"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace(
        (
            Param("anchor", "categorical", "daily", choices=("daily", "weekly", "rolling")),
            Param("window", "int", 48, 12, 720, log=True, description="Rolling VWAP bars."),
            Param("band_k", "float", 2.0, 0.5, 4.0, description="Band width (std devs)."),
            ALLOW_SHORT,
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        if params["anchor"] == "rolling":
            vwap, upper, lower = rolling_vwap_bands(bars, params["window"], params["band_k"])
        else:
            vwap, upper, lower = session_vwap_bands(bars, params["anchor"], params["band_k"])
        close = bars.close
        entries, exits = crossed_below(close, lower), close >= vwap
        if not params["allow_short"]:
            return Signals(entries=entries, exits=exits)
        return Signals(
            entries=entries,
            exits=exits,
            short_entries=crossed_above(close, upper),
            short_exits=close <= vwap,
        )
