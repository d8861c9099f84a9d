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
def session_vwap(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
    timestamps: np.ndarray, session_ms: int, offset_ms: int, k: float,
    vwap: np.ndarray, upper: np.ndarray, lower: np.ndarray,
) -> None:
    """Fill vwap / upper / lower for every bar."""
    current = np.int64(0)
    weight = 0.0
    mean = 0.0
    spread = 0.0
    for i in range(len(close)):
        session = (timestamps[i] - offset_ms) // session_ms
        if i == 0 or session != current:
            current = session
            weight = 0.0
            mean = 0.0
            spread = 0.0
        w = volume[i]
        if w > 0.0:
            typical = (high[i] + low[i] + close[i]) / 3.0
            weight += w
            delta = typical - mean
            mean += (w / weight) * delta
            spread += w * delta * (typical - mean)
        if weight == 0.0:
            vwap[i] = np.nan
            upper[i] = np.nan
            lower[i] = np.nan
            continue
        std = math.sqrt(max(spread / weight, 0.0))
        vwap[i] = mean
        upper[i] = mean + k * std
        lower[i] = mean - k * std
