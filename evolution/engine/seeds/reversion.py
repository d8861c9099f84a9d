"""Reversion seed: VWAP reversion (entry).

Guarantees: the VWAP and its bands at bar t use bars up to and including t
(a session VWAP restarts at each UTC day or week); values at t read bars 0..t
only; no signal where no volume has traded (VWAP undefined).

How the bands are computed (and checked, bit for bit, against the indicators):
a session VWAP and its volume-weighted std are `vwap_session`'s (West's weighted
Welford per session, bands = vwap +/- k * std), NaN in a session's first bars; a
rolling VWAP is `vwap_rolling`'s, its std sqrt(max(E[v x'^2] / E[v] - (vwap -
x0)^2, 0)) of the typical price x' = x - x0 centred on the first bar's, with the
two windowed sums added and removed as pandas' rolling sum does (Kahan
compensated, non-finite values skipped, a run of equal values summed as value x
count). The VWAP and std depend on the anchor (or window) only, so `compute_many`
computes them once per anchor and each block's signals in one compiled pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np

from evolution.engine.seeds.indicator_memo import SeriesMemo
from evolution.engine.seeds.seed import ALLOW_SHORT, Seed
from trading.engine.indicators.inputs import (
    as_same_length,
    as_series,
    check_non_negative_float,
    check_period,
    first_valid_index,
)
from trading.engine.indicators.kernels import sessions
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals

DAY_MS = 86_400_000
SESSION_MS = {"daily": DAY_MS, "weekly": 7 * DAY_MS}
# sessions start at 00:00 UTC; weeks on Monday (the epoch, 1970-01-01, was a Thursday)
SESSION_OFFSET_MS = {"daily": 0, "weekly": 4 * DAY_MS}
MIN_SESSION_BARS = 6  # bars a session needs (current included) before its bands trade


def session_vwap_spread(bars: Bars, anchor: str) -> tuple[np.ndarray, np.ndarray]:
    """(vwap, std) of the current UTC day or week: the bands are vwap +/- k * std; std is
    NaN in a session's first MIN_SESSION_BARS - 1 bars (their spread is noise)."""
    session_ms = check_period(SESSION_MS[anchor], "session_ms")
    h, lo, c, v = as_same_length(
        ("high", bars.high), ("low", bars.low), ("close", bars.close), ("volume", bars.volume)
    )
    stamps = np.ascontiguousarray(bars.timestamps, dtype=np.int64)
    if stamps.shape != c.shape:
        raise ValueError(f"timestamps_ms has {len(stamps)} values, close has {len(c)}")
    if _first_step_back(stamps) >= 0:
        raise ValueError("timestamps_ms must be strictly increasing")
    vwap, std = np.empty(len(c)), np.empty(len(c))
    sessions.session_vwap_std(h, lo, c, v, stamps, session_ms, SESSION_OFFSET_MS[anchor],
                              MIN_SESSION_BARS - 1, vwap, std)
    return vwap, std


def rolling_vwap_spread(bars: Bars, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(vwap, std) over the last `window` bars: the bands are vwap +/- k * std."""
    n = check_period(window)
    h, lo, c, v = as_same_length(
        ("high", bars.high), ("low", bars.low), ("close", bars.close), ("volume", bars.volume)
    )
    return _rolling_vwap_std(h, lo, c, v, n, first_valid_index(h, lo, c, v))


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
        return self.compute_many(bars, [params])[0]

    def compute_many(
        self, bars: Bars, params: Sequence[dict[str, Any]], memo: SeriesMemo | None = None
    ) -> list[Signals]:
        """The VWAP and std of each anchor (or rolling window) computed once."""
        if not params:
            return []
        close = as_series(bars.close, "close")
        spreads: dict[str | int, tuple[np.ndarray, np.ndarray]] = {}
        out = []
        for p in params:
            k = p["band_k"]
            if p["anchor"] == "rolling":
                window = check_period(p["window"])
                if window not in spreads:
                    spreads[window] = rolling_vwap_spread(bars, window)
                key: str | int = window
            else:
                key = anchor = p["anchor"]
                k = check_non_negative_float(k, "k")
                if anchor not in spreads:
                    spreads[anchor] = session_vwap_spread(bars, anchor)
            out.append(self._signals(close, *spreads[key], k, p))
        return out

    @staticmethod
    def _signals(
        close: np.ndarray, vwap: np.ndarray, std: np.ndarray, k: float, params: dict[str, Any]
    ) -> Signals:
        shorts = bool(params["allow_short"])
        entries, exits, short_entries, short_exits = _reversion_events(
            close, vwap, std, float(k), shorts
        )
        if not shorts:
            return Signals(entries=entries, exits=exits)
        return Signals(
            entries=entries, exits=exits, short_entries=short_entries, short_exits=short_exits
        )


@numba.njit(cache=True, error_model="numpy")
def _reversion_events(
    close: np.ndarray, vwap: np.ndarray, std: np.ndarray, k: float, shorts: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(crossed_below(close, lower), close >= vwap, crossed_above(close, upper),
    close <= vwap) with the bands vwap -/+ k * std, in one pass; the short pair is
    empty unless `shorts`."""
    n = close.shape[0]
    m = n if shorts else 0
    entries, exits = np.zeros(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
    short_entries, short_exits = np.zeros(m, dtype=np.bool_), np.empty(m, dtype=np.bool_)
    last_close = last_lower = last_upper = 0.0
    for t in range(n):
        price, middle = close[t], vwap[t]
        width = k * std[t]
        lower, upper = middle - width, middle + width
        exits[t] = price >= middle
        if t > 0:
            entries[t] = price < lower and last_close >= last_lower
        if shorts:
            short_exits[t] = price <= middle
            if t > 0:
                short_entries[t] = price > upper and last_close <= last_upper
        last_close, last_lower, last_upper = price, lower, upper
    return entries, exits, short_entries, short_exits


@numba.njit(cache=True)
def _first_step_back(stamps: np.ndarray) -> int:
    """The first bar whose stamp is not after the previous one's (-1: none)."""
    for i in range(1, stamps.shape[0]):
        if stamps[i] - stamps[i - 1] <= 0:  # the wrapping int64 difference, as np.diff's
            return i
    return -1


@numba.njit(cache=True, error_model="numpy", inline="always")
def _kahan_add(
    value: float, total: float, compensation: float
) -> tuple[float, float]:
    """pandas' compensated step: (new total, new compensation)."""
    y = value - compensation
    t = total + y
    return t, t - total - y


@numba.njit(cache=True, error_model="numpy")
def _rolling_vwap_std(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, n: int,
    start: int,
) -> tuple[np.ndarray, np.ndarray]:
    """`rolling.rolling_vwap` on the bars from `start` (NaN before), and the std from
    pandas-rolling sums of v and v * (x - x0)^2 over the whole series (see the module
    docstring)."""
    size = close.shape[0]
    vwap, std = np.empty(size), np.empty(size)
    anchor = (high[0] + low[0] + close[0]) / 3.0 if size else 0.0
    price_volume = total_volume = 0.0
    traded = 0
    # pandas' rolling-sum state of the weights (w_) and the centred second moments (m_)
    w_nobs = m_nobs = w_same = m_same = 0
    w_sum = w_add = w_remove = m_sum = m_add = m_remove = 0.0
    w_last = m_last = np.nan
    for i in range(size):
        typical = (high[i] + low[i] + close[i]) / 3.0
        middle = np.nan
        if i >= start:
            price_volume += typical * volume[i]
            total_volume += volume[i]
            traded += 1 if volume[i] > 0.0 else 0
            if i - start >= n:
                old = i - n
                price_volume -= (high[old] + low[old] + close[old]) / 3.0 * volume[old]
                total_volume -= volume[old]
                traded -= 1 if volume[old] > 0.0 else 0
            if i - start >= n - 1 and traded != 0:
                if total_volume == 0.0:
                    raise ZeroDivisionError("division by zero")  # as rolling_vwap would
                middle = price_volume / total_volume
        weight, second = volume[i], volume[i] * ((typical - anchor) * (typical - anchor))
        if i == 0 or n == 1:  # pandas starts the window afresh
            w_nobs = m_nobs = w_same = m_same = 0
            w_sum = w_add = w_remove = m_sum = m_add = m_remove = 0.0
            w_last = weight if math.isfinite(weight) else np.nan
            m_last = second if math.isfinite(second) else np.nan
        elif i >= n:
            gone = volume[i - n]
            if math.isfinite(gone):
                w_nobs -= 1
                w_sum, w_remove = _kahan_add(-gone, w_sum, w_remove)
            old_typical = (high[i - n] + low[i - n] + close[i - n]) / 3.0
            gone = gone * ((old_typical - anchor) * (old_typical - anchor))
            if math.isfinite(gone):
                m_nobs -= 1
                m_sum, m_remove = _kahan_add(-gone, m_sum, m_remove)
        if math.isfinite(weight):
            w_nobs += 1
            w_sum, w_add = _kahan_add(weight, w_sum, w_add)
            w_same = w_same + 1 if weight == w_last else 1
            w_last = weight
        if math.isfinite(second):
            m_nobs += 1
            m_sum, m_add = _kahan_add(second, m_sum, m_add)
            m_same = m_same + 1 if second == m_last else 1
            m_last = second
        total_weight = np.nan if w_nobs < n else (w_last * w_nobs if w_same >= w_nobs else w_sum)
        moment = np.nan if m_nobs < n else (m_last * m_nobs if m_same >= m_nobs else m_sum)
        variance = moment / total_weight - (middle - anchor) * (middle - anchor)
        vwap[i] = middle
        std[i] = np.sqrt(variance if variance > 0.0 or variance != variance else 0.0)
    return vwap, std
