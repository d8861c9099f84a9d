"""Oscillators: RSI, MACD, stochastic, rolling z-score (TA-Lib conventions where TA-Lib has them).

Guarantees: same-length float64 outputs, NaN during warm-up, the value at bar t
uses bars <= t only.
- `rsi`: Wilder, seeded with the plain means of the first n gains/losses; first
  value at bar n; 0 when the average move is below 1e-8 (TA-Lib's zero test).
- `macd`: as TA-Lib MACD. Both EMAs start at bar slow-1; the fast one is seeded
  there with the mean of the last `fast` closes (not at bar fast-1), so the MACD
  line differs from ema(fast) - ema(slow) during the first few hundred bars.
  All three outputs start at bar slow + signal - 2 (TA-Lib's NaN mask).
- `stochastic`: TA-Lib STOCH with SMA smoothing; both lines start at bar
  k + smooth_k + d - 3; fast %K is 0 when the window's range is 0.
- `zscore`: (x - rolling mean) / rolling population std over n bars, 0.0 when
  the window is flat (x equals the mean there).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from trading.engine.indicators.inputs import (
    as_same_length,
    as_series,
    check_period,
    first_valid_index,
    run_on_valid_tail,
)
from trading.engine.indicators.kernels import recursive, rolling
from trading.engine.indicators.moving_averages import sma


def rsi(close: ArrayLike, n: int = 14) -> np.ndarray:
    """Wilder's relative strength index in [0, 100]."""
    n = check_period(n, "n", minimum=2)
    (out,) = run_on_valid_tail(recursive.rsi, [as_series(close, "close")], (n,))
    return out


def macd(
    close: ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(macd_line, signal_line, histogram) exactly as TA-Lib MACD computes them."""
    fast = check_period(fast, "fast")
    slow = check_period(slow, "slow")
    signal = check_period(signal, "signal")
    if fast >= slow:
        raise ValueError(f"macd needs fast < slow, got fast={fast}, slow={slow}")
    line, signal_line, histogram = run_on_valid_tail(
        recursive.macd_lines, [as_series(close, "close")], (fast, slow, signal), outputs=3
    )
    return line, signal_line, histogram


def stochastic(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, k: int = 14, smooth_k: int = 3, d: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """(k_line, d_line): slow %K = SMA(fast %K, smooth_k), %D = SMA(slow %K, d), as TA-Lib STOCH."""
    k = check_period(k, "k")
    smooth_k = check_period(smooth_k, "smooth_k")
    d = check_period(d, "d")
    h, lo, c = as_same_length(("high", high), ("low", low), ("close", close))
    start = first_valid_index(h, lo, c)
    fast_k = np.full(len(c), np.nan)
    if start < len(c):
        h, lo, c = h[start:], lo[start:], c[start:]
        highest = np.empty(len(c))
        lowest = np.empty(len(c))
        rolling.rolling_max(h, k, highest)
        rolling.rolling_min(lo, k, lowest)
        rolling.stochastic_fast_k(c, highest, lowest, fast_k[start:])
    k_line = sma(fast_k, smooth_k)
    d_line = sma(k_line, d)
    k_line[np.isnan(d_line)] = np.nan
    return k_line, d_line


def zscore(x: ArrayLike, n: int) -> np.ndarray:
    """Rolling z-score of x over the last n values (population std); 0.0 on flat windows."""
    n = check_period(n, "n", minimum=2)
    (score,) = run_on_valid_tail(rolling.rolling_zscore, [as_series(x)], (n,))
    return score
