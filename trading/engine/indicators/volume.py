"""Volume indicators: volume moving average, on-balance volume, rolling and session VWAP.

Guarantees: same-length float64 outputs; the value at bar t uses bars <= t only
(bar t included: it is closed when the indicator is read).
- `volume_ma`: SMA of volume (identical to `sma(volume, n)`).
- `obv`: TA-Lib OBV; starts at volume[0], no warm-up.
- `vwap_rolling`: sum(tp * v) / sum(v) over the last n bars, tp = (h+l+c)/3;
  NaN during the first n-1 bars and wherever the whole window traded nothing.
- `vwap_session`: VWAP anchored at each session start (sessions are fixed
  `session_ms` blocks of UTC time, shifted by `offset_ms`: 86_400_000 is the UTC
  day; 7 days with offset 4 days is the Monday-to-Sunday week). Bands are
  k volume-weighted population std devs of the typical price around the VWAP.
  NaN until the session has traded some volume.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from trading.engine.indicators.inputs import (
    as_same_length,
    as_series,
    check_non_negative_float,
    check_period,
    run_on_valid_tail,
)
from trading.engine.indicators.kernels import recursive, rolling, sessions
from trading.engine.indicators.moving_averages import sma


def volume_ma(volume: ArrayLike, n: int = 20) -> np.ndarray:
    """Simple moving average of volume."""
    return sma(as_series(volume, "volume"), n)


def obv(close: ArrayLike, volume: ArrayLike) -> np.ndarray:
    """On-balance volume: running total of volume signed by the close-to-close direction."""
    c, v = as_same_length(("close", close), ("volume", volume))
    (out,) = run_on_valid_tail(recursive.on_balance_volume, [c, v])
    return out


def vwap_rolling(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike, n: int
) -> np.ndarray:
    """Volume-weighted average typical price over the last n bars."""
    n = check_period(n)
    h, lo, c, v = _ohlv(high, low, close, volume)
    (out,) = run_on_valid_tail(rolling.rolling_vwap, [h, lo, c, v], (n,))
    return out


def vwap_session(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    timestamps_ms: ArrayLike,
    session_ms: int = 86_400_000,
    k: float = 2.0,
    *,
    offset_ms: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vwap, upper_band, lower_band) anchored at each session's first bar."""
    session_ms = check_period(session_ms, "session_ms")
    k = check_non_negative_float(k, "k")
    h, lo, c, v = _ohlv(high, low, close, volume)
    stamps = np.ascontiguousarray(timestamps_ms, dtype=np.int64)
    if stamps.shape != c.shape:
        raise ValueError(f"timestamps_ms has {len(stamps)} values, close has {len(c)}")
    if len(stamps) > 1 and np.any(np.diff(stamps) <= 0):
        raise ValueError("timestamps_ms must be strictly increasing")
    vwap, upper, lower = (np.empty(len(c)) for _ in range(3))
    sessions.session_vwap(h, lo, c, v, stamps, session_ms, int(offset_ms), k, vwap, upper, lower)
    return vwap, upper, lower


def _ohlv(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike
) -> list[np.ndarray]:
    return as_same_length(("high", high), ("low", low), ("close", close), ("volume", volume))
