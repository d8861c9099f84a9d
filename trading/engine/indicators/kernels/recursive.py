"""Recursive kernels: EMA, MACD, Wilder RSI, true range, Wilder ATR, OBV.

Guarantees: each kernel repeats TA-Lib's arithmetic in TA-Lib's order
(EMA seeded with the SMA of its first n inputs and updated as
((x - prev) * k) + prev; RSI and ATR seeded with plain means and smoothed as
(prev * (n - 1) + new) / n). TA-Lib treats |v| < 1e-8 as zero in RSI's
denominator (RSI = 0 then); the kernels do the same, so outputs match.
"""

from __future__ import annotations

import numpy as np
from numba import njit

TA_EPSILON = 1e-8  # TA-Lib's TA_IS_ZERO threshold


@njit(cache=True)
def ema(x: np.ndarray, n: int, k: float, first: int, out: np.ndarray) -> None:
    """EMA with factor k whose first value, at index `first`, is the mean of x[first-n+1..first].

    `first` = n-1 gives TA-Lib EMA; MACD seeds its fast EMA later (at slow-1).
    """
    size = len(x)
    for i in range(min(first, size)):
        out[i] = np.nan
    if first >= size:
        return
    total = 0.0
    for i in range(first - n + 1, first + 1):
        total += x[i]
    prev = total / n
    out[first] = prev
    for i in range(first + 1, size):
        prev = ((x[i] - prev) * k) + prev
        out[i] = prev


@njit(cache=True)
def macd_lines(
    x: np.ndarray, fast: int, slow: int, signal: int,
    line_out: np.ndarray, signal_out: np.ndarray, hist_out: np.ndarray,
) -> None:
    """TA-Lib MACD: both EMAs start at bar slow-1 (the fast one seeded with the mean of
    its last `fast` inputs there), the signal EMA runs on the line from bar slow-1,
    and all three outputs are NaN until the signal exists."""
    size = len(x)
    ema(x, slow, 2.0 / (slow + 1), slow - 1, signal_out)  # slow EMA, parked in signal_out
    ema(x, fast, 2.0 / (fast + 1), slow - 1, line_out)
    for i in range(size):
        line_out[i] = line_out[i] - signal_out[i]
    for i in range(min(slow - 1, size)):
        signal_out[i] = np.nan
    if slow - 1 < size:
        ema(line_out[slow - 1:], signal, 2.0 / (signal + 1), signal - 1, signal_out[slow - 1:])
    for i in range(size):
        if np.isnan(signal_out[i]):
            line_out[i] = np.nan
            hist_out[i] = np.nan
        else:
            hist_out[i] = line_out[i] - signal_out[i]


@njit(cache=True)
def rsi(x: np.ndarray, n: int, out: np.ndarray) -> None:
    """TA-Lib RSI: Wilder smoothing seeded with the plain means of the first n changes."""
    rsi_until(x, n, len(x) - 1, out)


@njit(cache=True)
def rsi_until(x: np.ndarray, n: int, until: int, out: np.ndarray) -> tuple[float, float]:
    """`rsi` over x[:until + 1] (NaN before bar n); its last (gain, loss) averages (NaN when
    it has not started), from which a caller may carry the smoothing on."""
    size = len(x)
    for i in range(min(n, size)):
        out[i] = np.nan
    if n >= size:
        return np.nan, np.nan
    gain = 0.0
    loss = 0.0
    for i in range(1, n + 1):
        change = x[i] - x[i - 1]
        if change < 0:
            loss -= change
        else:
            gain += change
    loss /= n
    gain /= n
    out[n] = rsi_value(gain, loss)
    for i in range(n + 1, min(until + 1, size)):
        change = x[i] - x[i - 1]
        # Selects instead of TA-Lib's if/else: the same floats (adding or
        # subtracting 0.0 changes nothing), without a mispredicted branch per bar.
        falling = change < 0
        loss *= n - 1
        gain *= n - 1
        loss -= change if falling else 0.0
        gain += 0.0 if falling else change
        loss /= n
        gain /= n
        out[i] = rsi_value(gain, loss)
    return gain, loss


@njit(cache=True)
def rsi_value(gain: float, loss: float) -> float:
    """RSI from Wilder's average gain and loss (0 where both are ~0, as TA-Lib)."""
    total = gain + loss
    if -TA_EPSILON < total < TA_EPSILON:
        return 0.0
    return 100.0 * (gain / total)


@njit(cache=True)
def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray, out: np.ndarray) -> None:
    """TA-Lib TRANGE: NaN at bar 0 (no previous close), then max of the three ranges."""
    size = len(close)
    if size == 0:
        return
    out[0] = np.nan
    for i in range(1, size):
        out[i] = bar_true_range(high[i], low[i], close[i - 1])


@njit(cache=True)
def bar_true_range(high: float, low: float, prev_close: float) -> float:
    """max(high - low, |prev_close - high|, |low - prev_close|) in TA-Lib's order."""
    greatest = high - low
    from_close = abs(prev_close - high)
    if from_close > greatest:
        greatest = from_close
    from_close = abs(low - prev_close)
    if from_close > greatest:
        greatest = from_close
    return greatest


@njit(cache=True)
def wilder_average_true_range(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int, out: np.ndarray
) -> None:
    """TA-Lib ATR: mean of true ranges 1..n at bar n, then (prev*(n-1) + tr)/n."""
    size = len(close)
    for i in range(min(n, size)):
        out[i] = np.nan
    if n >= size:
        return
    total = 0.0
    for i in range(1, n + 1):
        total += bar_true_range(high[i], low[i], close[i - 1])
    prev = total / n
    out[n] = prev
    for i in range(n + 1, size):
        prev *= n - 1
        prev += bar_true_range(high[i], low[i], close[i - 1])
        prev /= n
        out[i] = prev


@njit(cache=True)
def on_balance_volume(close: np.ndarray, volume: np.ndarray, out: np.ndarray) -> None:
    """TA-Lib OBV: starts at volume[0]; adds volume on up closes, subtracts on down closes."""
    size = len(close)
    if size == 0:
        return
    total = volume[0]
    out[0] = total
    for i in range(1, size):
        if close[i] > close[i - 1]:
            total += volume[i]
        elif close[i] < close[i - 1]:
            total -= volume[i]
        out[i] = total
