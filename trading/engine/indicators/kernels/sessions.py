"""Session-anchored VWAP kernel.

Guarantees: a session is the set of bars whose (timestamp - offset) // session_ms
is equal; statistics restart at each new session. Within a session the VWAP is
the volume-weighted mean of the typical price (h+l+c)/3 over the session's bars
so far (bar t included), and the band width is k times the volume-weighted
population standard deviation of the typical price, both updated with West's
weighted Welford recurrence (no E[x^2]-E[x]^2 cancellation). While a session
has traded no volume the three outputs are NaN.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def session_vwap_std(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
    timestamps: np.ndarray, session_ms: int, offset_ms: int, settle: int,
    vwap: np.ndarray, std: np.ndarray,
) -> None:
    """Fill vwap and the volume-weighted std of the typical price for every bar; the std
    is also NaN on the first `settle` bars of each session (its first bar is bar 0)."""
    current = np.int64(0)
    weight = 0.0
    mean = 0.0
    spread = 0.0
    into = 0
    for i in range(len(close)):
        session = (timestamps[i] - offset_ms) // session_ms
        if i == 0 or session != current:
            current = session
            weight = 0.0
            mean = 0.0
            spread = 0.0
            into = 0
        else:
            into += 1
        w = volume[i]
        if w > 0.0:
            typical = (high[i] + low[i] + close[i]) / 3.0
            weight += w
            delta = typical - mean
            mean += (w / weight) * delta
            spread += w * delta * (typical - mean)
        if weight == 0.0:
            vwap[i] = np.nan
            std[i] = np.nan
            continue
        vwap[i] = mean
        std[i] = math.sqrt(max(spread / weight, 0.0)) if into >= settle else np.nan


@njit(cache=True)
def session_vwap(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
    timestamps: np.ndarray, session_ms: int, offset_ms: int, k: float,
    vwap: np.ndarray, upper: np.ndarray, lower: np.ndarray,
) -> None:
    """Fill vwap / upper / lower (vwap +/- k std of `session_vwap_std`) for every bar."""
    std = np.empty(len(close))
    session_vwap_std(high, low, close, volume, timestamps, session_ms, offset_ms, 0, vwap, std)
    for i in range(len(close)):
        upper[i] = vwap[i] + k * std[i]
        lower[i] = vwap[i] - k * std[i]
