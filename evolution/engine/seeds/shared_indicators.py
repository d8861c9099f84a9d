"""Indicators of many periods computed together, bit for bit what `trading.engine.indicators` gives.

When a population is evaluated, many blocks of one seed need the same
indicator at different periods. An EMA is a chain of dependent operations
(each value waits for the previous one), so computed alone it runs at the
latency of that chain; several chains interleaved in one loop run side by
side at the cost of about one.

Guarantees: `ema_by_period(x, periods)[n]` equals `trading.engine.indicators.ema(x,
n)` element for element (the same leading-NaN handling, the same
seed mean summed in order, the same update ((x - prev) * k) + prev with
k = 2 / (n + 1)); `atr_by_period(high, low, close, periods)[n]` equals
`atr(high, low, close, n)` (true ranges in TA-Lib's order, their plain mean at
bar n, then prev * (n - 1) + tr, divided by n); invalid periods raise as the
single indicators raise.
"""

from __future__ import annotations

from collections.abc import Iterable

import numba
import numpy as np

from trading.engine.indicators.inputs import (
    as_same_length,
    as_series,
    check_period,
    first_valid_index,
)
from trading.engine.indicators.kernels.recursive import bar_true_range
from trading.engine.indicators.moving_averages import ema_factor

CHAINS = 8  # EMAs advanced together in one loop


@numba.njit(cache=True)
def _chain_start(x: np.ndarray, n: int, k: float, until: int, out: np.ndarray) -> float:
    """One EMA of period n over x[:until + 1] into `out` (NaN before bar n - 1); its last
    value (NaN when it has not started)."""
    size = x.shape[0]
    first = n - 1
    for i in range(min(first, size)):
        out[i] = np.nan
    if first >= size:
        return np.nan
    total = 0.0
    for i in range(first - n + 1, first + 1):
        total += x[i]
    prev = total / n
    out[first] = prev
    for i in range(first + 1, min(until + 1, size)):
        prev = ((x[i] - prev) * k) + prev
        out[i] = prev
    return prev


@numba.njit(cache=True)
def _ema_group(x: np.ndarray, periods: np.ndarray, factors: np.ndarray,
               out: np.ndarray) -> None:
    """Eight EMAs (periods ascending) of `x` (no leading NaN) into the rows of `out`: each
    started alone, then advanced together once the longest has started."""
    size = x.shape[0]
    until = min(periods[7] - 1, size)
    p0 = _chain_start(x, periods[0], factors[0], until, out[0])
    p1 = _chain_start(x, periods[1], factors[1], until, out[1])
    p2 = _chain_start(x, periods[2], factors[2], until, out[2])
    p3 = _chain_start(x, periods[3], factors[3], until, out[3])
    p4 = _chain_start(x, periods[4], factors[4], until, out[4])
    p5 = _chain_start(x, periods[5], factors[5], until, out[5])
    p6 = _chain_start(x, periods[6], factors[6], until, out[6])
    p7 = _chain_start(x, periods[7], factors[7], until, out[7])
    k0, k1, k2, k3 = factors[0], factors[1], factors[2], factors[3]
    k4, k5, k6, k7 = factors[4], factors[5], factors[6], factors[7]
    for i in range(until + 1, size):
        v = x[i]
        p0 = ((v - p0) * k0) + p0
        p1 = ((v - p1) * k1) + p1
        p2 = ((v - p2) * k2) + p2
        p3 = ((v - p3) * k3) + p3
        p4 = ((v - p4) * k4) + p4
        p5 = ((v - p5) * k5) + p5
        p6 = ((v - p6) * k6) + p6
        p7 = ((v - p7) * k7) + p7
        out[0, i], out[1, i], out[2, i], out[3, i] = p0, p1, p2, p3
        out[4, i], out[5, i], out[6, i], out[7, i] = p4, p5, p6, p7


@numba.njit(cache=True)
def _ema_sorted(x: np.ndarray, periods: np.ndarray, factors: np.ndarray,
                out: np.ndarray) -> None:
    """EMAs for ascending `periods` into `out` (len(periods) rounded up to 8 rows; the rows
    past len(periods) repeat the longest period)."""
    for first in range(0, out.shape[0], CHAINS):
        _ema_group(x, periods[first:first + CHAINS], factors[first:first + CHAINS],
                   out[first:first + CHAINS])


def ema_by_period(x: np.ndarray, periods: Iterable[int]) -> dict[int, np.ndarray]:
    """`{n: ema(x, n)}` for each distinct period (rows of one array, computed together)."""
    series = as_series(x)
    distinct = sorted({check_period(n) for n in periods})
    if not distinct:
        return {}
    start = first_valid_index(series)
    padded = distinct + [distinct[-1]] * (-len(distinct) % CHAINS)
    out = np.empty((len(padded), len(series)))
    out[:, :start] = np.nan
    _ema_sorted(series[start:], np.array(padded, dtype=np.int64),
                np.array([ema_factor(n) for n in padded]), out[:, start:])
    return {n: out[j] for j, n in enumerate(distinct)}


@numba.njit(cache=True)
def _atr_start(ranges: np.ndarray, n: int, until: int, out: np.ndarray) -> float:
    """One Wilder ATR of period n over the true ranges up to `until` into `out` (NaN before
    bar n); its last value (NaN when it has not started)."""
    size = ranges.shape[0]
    for i in range(min(n, size)):
        out[i] = np.nan
    if n >= size:
        return np.nan
    total = 0.0
    for i in range(1, n + 1):
        total += ranges[i]
    prev = total / n
    out[n] = prev
    for i in range(n + 1, min(until + 1, size)):
        prev *= n - 1
        prev += ranges[i]
        prev /= n
        out[i] = prev
    return prev


@numba.njit(cache=True)
def _atr_group(ranges: np.ndarray, periods: np.ndarray, out: np.ndarray) -> None:
    """Eight ATRs (periods ascending) into the rows of `out`, advanced together once the
    longest has started."""
    size = ranges.shape[0]
    until = min(periods[7], size)
    p = np.empty(8)
    for j in range(8):
        p[j] = _atr_start(ranges, periods[j], until, out[j])
    n0, n1, n2, n3 = periods[0], periods[1], periods[2], periods[3]
    n4, n5, n6, n7 = periods[4], periods[5], periods[6], periods[7]
    p0, p1, p2, p3, p4, p5, p6, p7 = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    for i in range(until + 1, size):
        r = ranges[i]
        p0 = (p0 * (n0 - 1) + r) / n0
        p1 = (p1 * (n1 - 1) + r) / n1
        p2 = (p2 * (n2 - 1) + r) / n2
        p3 = (p3 * (n3 - 1) + r) / n3
        p4 = (p4 * (n4 - 1) + r) / n4
        p5 = (p5 * (n5 - 1) + r) / n5
        p6 = (p6 * (n6 - 1) + r) / n6
        p7 = (p7 * (n7 - 1) + r) / n7
        out[0, i], out[1, i], out[2, i], out[3, i] = p0, p1, p2, p3
        out[4, i], out[5, i], out[6, i], out[7, i] = p4, p5, p6, p7


@numba.njit(cache=True)
def _atr_sorted(high: np.ndarray, low: np.ndarray, close: np.ndarray, periods: np.ndarray,
                out: np.ndarray) -> None:
    ranges = np.empty(close.shape[0])
    if close.shape[0]:
        ranges[0] = np.nan
    for i in range(1, close.shape[0]):
        ranges[i] = bar_true_range(high[i], low[i], close[i - 1])
    whole = periods.shape[0] - periods.shape[0] % CHAINS
    for first in range(0, whole, CHAINS):
        _atr_group(ranges, periods[first:first + CHAINS], out[first:first + CHAINS])
    for j in range(whole, periods.shape[0]):  # a short group: each alone (ATRs divide)
        _atr_start(ranges, periods[j], ranges.shape[0], out[j])


def atr_by_period(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, periods: Iterable[int]
) -> dict[int, np.ndarray]:
    """`{n: atr(high, low, close, n)}` for each distinct period, computed together."""
    h, lo, c = as_same_length(("high", high), ("low", low), ("close", close))
    distinct = sorted({check_period(n) for n in periods})
    if not distinct:
        return {}
    start = first_valid_index(h, lo, c)
    out = np.empty((len(distinct), len(c)))
    out[:, :start] = np.nan
    _atr_sorted(h[start:], lo[start:], c[start:], np.array(distinct, dtype=np.int64),
                out[:, start:])
    return {n: out[j] for j, n in enumerate(distinct)}
