"""Sliding-window kernels: SMA, WMA, rolling mean/std, rolling max/min, rolling VWAP,
stochastic %K.

Guarantees: the value at index t depends on x[t-n+1..t] only. Running sums add
the newest value and subtract the oldest, in TA-Lib's order (no prefix-sum
cumsum, whose rounding error grows with the series length). Rolling variance
uses running sums of deviations from an anchor that is re-set every n bars
(see `rolling_mean_std`), clamped at zero, and is exactly zero whenever the
whole window holds one repeated value, so flat windows give a standard
deviation of exactly 0.0 instead of rounding noise.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def rolling_mean(x: np.ndarray, n: int, out: np.ndarray) -> None:
    """TA-Lib SMA: out[t] = mean(x[t-n+1..t]) from t = n-1."""
    size = len(x)
    total = 0.0
    for i in range(min(n - 1, size)):
        out[i] = np.nan
        total += x[i]
    for i in range(n - 1, size):
        total += x[i]
        out[i] = total / n
        total -= x[i - n + 1]


@njit(cache=True)
def weighted_mean(x: np.ndarray, n: int, out: np.ndarray) -> None:
    """TA-Lib WMA: weights 1..n, the newest value weighted n.

    The two running totals are rebuilt from the window every 8*n bars (as
    TA-Lib 0.8 does): otherwise the weighted total keeps rounding residue
    that no later subtraction removes, and drifts on long series.
    """
    size = len(x)
    for i in range(min(n - 1, size)):
        out[i] = np.nan
    if n == 1:
        for i in range(size):
            out[i] = x[i]
        return
    divider = n * (n + 1) / 2.0
    period_sub = 0.0
    period_sum = 0.0
    for i in range(min(n - 1, size)):
        period_sub += x[i]
        period_sum += x[i] * (i + 1)
    trailing = 0.0
    countdown = 8 * n
    for i in range(n - 1, size):
        value = x[i]
        period_sub += value
        period_sub -= trailing
        period_sum += value * n
        countdown -= 1
        if countdown <= 0:
            countdown = 8 * n
            period_sub, period_sum = _window_totals(x, i - n + 1, i + 1)
        trailing = x[i - n + 1]
        out[i] = period_sum / divider
        period_sum -= period_sub


@njit(cache=True)
def _window_totals(x: np.ndarray, start: int, stop: int) -> tuple[float, float]:
    """(sum, weighted sum with weights 1..n) of x[start:stop], oldest first."""
    plain = 0.0
    weighted = 0.0
    weight = 1
    for j in range(start, stop):
        plain += x[j]
        weighted += x[j] * weight
        weight += 1
    return plain, weighted


@njit(cache=True)
def rolling_mean_std(
    x: np.ndarray, n: int, ddof: int, mean_out: np.ndarray, std_out: np.ndarray
) -> None:
    """mean_out = TA-Lib SMA; std_out = rolling std with `ddof` over the same window.

    The variance comes from running sums of (x - anchor) and (x - anchor)^2;
    every n bars the anchor moves to the newest value and both sums are rebuilt
    from the window, so the sums stay at the scale of the window's spread (no
    catastrophic cancellation at high prices) and rounding cannot accumulate.
    """
    size = len(x)
    anchor = x[0] if size > 0 else 0.0
    total = 0.0
    shifted = 0.0
    shifted_sq = 0.0
    run = 0
    for i in range(size):
        value = x[i]
        run = run + 1 if i > 0 and value == x[i - 1] else 1
        total += value
        delta = value - anchor
        shifted += delta
        shifted_sq += delta * delta
        if i >= n:
            delta = x[i - n] - anchor
            shifted -= delta
            shifted_sq -= delta * delta
        if i < n - 1:
            mean_out[i] = np.nan
            std_out[i] = np.nan
            continue
        if (i - n + 1) % n == 0:
            anchor = value
            shifted, shifted_sq = shifted_sums(x, i - n + 1, i + 1, anchor)
        mean_out[i] = total / n
        total -= x[i - n + 1]
        spread = shifted_sq - shifted * shifted / n
        if run >= n or spread < 0.0:
            spread = 0.0
        std_out[i] = math.sqrt(spread / (n - ddof))


@njit(cache=True)
def shifted_sums(x: np.ndarray, start: int, stop: int, anchor: float) -> tuple[float, float]:
    """(sum, sum of squares) of x[start:stop] - anchor."""
    plain = 0.0
    squares = 0.0
    for j in range(start, stop):
        delta = x[j] - anchor
        plain += delta
        squares += delta * delta
    return plain, squares


@njit(cache=True)
def rolling_max(x: np.ndarray, n: int, out: np.ndarray) -> None:
    """out[t] = max(x[t-n+1..t]) from t = n-1."""
    _rolling_extreme(x, n, out, True)


@njit(cache=True)
def rolling_min(x: np.ndarray, n: int, out: np.ndarray) -> None:
    """out[t] = min(x[t-n+1..t]) from t = n-1."""
    _rolling_extreme(x, n, out, False)


@njit(cache=True)
def _rolling_extreme(x: np.ndarray, n: int, out: np.ndarray, is_max: bool) -> None:
    # van Herk / Gil-Werman: cut the series into blocks of n; a window spans the
    # tail of the previous block and the head of the current one, so its extreme
    # is the better of that block's suffix extreme and a running prefix extreme.
    # Three comparisons per bar, O(n) scratch memory, and exact (no rounding).
    size = len(x)
    prev_suffix = np.empty(n)
    next_suffix = np.empty(n)
    for start in range(0, size, n):
        stop = min(start + n, size)
        acc = x[stop - 1]
        next_suffix[stop - 1 - start] = acc
        for j in range(stop - 2, start - 1, -1):
            acc = _better(x[j], acc, is_max)
            next_suffix[j - start] = acc
        prefix = x[start]
        for i in range(start, stop):
            if i > start:
                prefix = _better(prefix, x[i], is_max)
            if i < n - 1:
                out[i] = np.nan
            elif i - start + 1 == n:
                out[i] = prefix
            else:
                out[i] = _better(prev_suffix[i - start + 1], prefix, is_max)
        prev_suffix, next_suffix = next_suffix, prev_suffix


@njit(cache=True)
def rolling_max_before(x: np.ndarray, n: int, out: np.ndarray) -> None:
    """out[t] = max(x[t-n..t-1]): the n bars BEFORE t; NaN for t < n."""
    if len(x) == 0:
        return
    out[0] = np.nan
    _rolling_extreme(x[:-1], n, out[1:], True)


@njit(cache=True)
def rolling_min_before(x: np.ndarray, n: int, out: np.ndarray) -> None:
    """out[t] = min(x[t-n..t-1]): the n bars BEFORE t; NaN for t < n."""
    if len(x) == 0:
        return
    out[0] = np.nan
    _rolling_extreme(x[:-1], n, out[1:], False)


@njit(cache=True)
def bollinger_bands(
    x: np.ndarray, n: int, k: float, upper: np.ndarray, middle: np.ndarray, lower: np.ndarray
) -> None:
    """middle = SMA, upper/lower = middle +/- k * population std, without temporaries."""
    rolling_mean_std(x, n, 0, middle, upper)
    for i in range(len(x)):
        width = k * upper[i]
        upper[i] = middle[i] + width
        lower[i] = middle[i] - width


@njit(cache=True)
def rolling_zscore(x: np.ndarray, n: int, out: np.ndarray) -> None:
    """(x - SMA) / population std over n values; 0.0 where the std is 0."""
    mean = np.empty(len(x))
    rolling_mean_std(x, n, 0, mean, out)
    for i in range(len(x)):
        std = out[i]
        out[i] = 0.0 if std == 0.0 else (x[i] - mean[i]) / std


@njit(cache=True, inline="always")
def _better(a: float, b: float, is_max: bool) -> float:
    if is_max:
        return a if a >= b else b
    return a if a <= b else b


@njit(cache=True)
def rolling_vwap(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, n: int,
    out: np.ndarray,
) -> None:
    """out[t] = sum(tp*v)/sum(v) over the last n bars, tp = (h+l+c)/3; NaN if no volume traded."""
    size = len(close)
    price_volume = 0.0
    total_volume = 0.0
    traded = 0  # bars in the window with volume > 0: an exact test for "no volume"
    for i in range(size):
        typical = (high[i] + low[i] + close[i]) / 3.0
        price_volume += typical * volume[i]
        total_volume += volume[i]
        traded += 1 if volume[i] > 0.0 else 0
        if i >= n:
            old = i - n
            price_volume -= (high[old] + low[old] + close[old]) / 3.0 * volume[old]
            total_volume -= volume[old]
            traded -= 1 if volume[old] > 0.0 else 0
        if i < n - 1 or traded == 0:
            out[i] = np.nan
        else:
            out[i] = price_volume / total_volume


@njit(cache=True)
def stochastic_fast_k(
    close: np.ndarray, highest: np.ndarray, lowest: np.ndarray, out: np.ndarray
) -> None:
    """TA-Lib fast %K from precomputed window extremes: (c - ll) / ((hh - ll) / 100), 0 if flat."""
    for i in range(len(close)):
        if np.isnan(highest[i]):
            out[i] = np.nan
            continue
        diff = (highest[i] - lowest[i]) / 100.0
        out[i] = (close[i] - lowest[i]) / diff if diff != 0.0 else 0.0
