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
bar n, then prev * (n - 1) + tr, divided by n); `rsi_by_period(x, periods)[n]`
equals `rsi(x, n)` (Wilder's gains and losses seeded with plain means, smoothed
as (prev * (n - 1) +/- change) / n, TA-Lib's zero test);
`realized_volatility_by_window(close, windows, ppy)[n]` equals
`realized_volatility(close, n, ppy)` (numpy's log of the close ratios, computed
once, then `rolling_mean_std`'s re-anchored running sums per window); invalid
periods raise as the single indicators raise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numba
import numpy as np

from trading.engine.indicators.inputs import (
    as_same_length,
    as_series,
    check_non_negative_float,
    check_period,
    first_valid_index,
)
from trading.engine.indicators.kernels import recursive
from trading.engine.indicators.kernels.recursive import bar_true_range
from trading.engine.indicators.kernels.rolling import shifted_sums
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


# RSI: each chain divides three times a bar, so computed alone it waits on its divisions;
# the chains of several periods advanced in one inner loop run as vector lanes (rows of
# eight: the periods are padded with the longest, the extra rows are discarded). A single
# period runs as the indicator's own kernel.


@numba.njit(cache=True, error_model="numpy")
def _rsi_sorted(x: np.ndarray, periods: np.ndarray, out: np.ndarray) -> None:
    """RSIs for ascending `periods` into the rows of `out`: each started alone, then all
    advanced together once the longest has started."""
    size = x.shape[0]
    count = periods.shape[0]
    until = min(periods[count - 1], size)
    gains, losses, values = np.empty(count), np.empty(count), np.empty(count)
    kept, divisors = np.empty(count), np.empty(count)
    for j in range(count):
        gains[j], losses[j] = recursive.rsi_until(x, periods[j], until, out[j])
        kept[j] = periods[j] - 1
        divisors[j] = periods[j]
    for i in range(until + 1, size):
        change = x[i] - x[i - 1]
        falling = change < 0
        down = change if falling else 0.0
        up = 0.0 if falling else change
        for j in range(count):
            loss = losses[j] * kept[j]
            gain = gains[j] * kept[j]
            loss -= down
            gain += up
            loss /= divisors[j]
            gain /= divisors[j]
            losses[j], gains[j] = loss, gain
            values[j] = recursive.rsi_value(gain, loss)
        for j in range(count):
            out[j, i] = values[j]


def rsi_by_period(x: np.ndarray, periods: Iterable[int]) -> dict[int, np.ndarray]:
    """`{n: rsi(x, n)}` for each distinct period (rows of one array, computed together)."""
    series = as_series(x, "close")
    distinct = sorted({check_period(n, "n", minimum=2) for n in periods})
    if not distinct:
        return {}
    start = first_valid_index(series)
    padded = distinct + [distinct[-1]] * (-len(distinct) % CHAINS if len(distinct) > 1 else 0)
    out = np.empty((len(padded), len(series)))
    out[:, :start] = np.nan
    if start < len(series) and len(distinct) == 1:  # one chain runs fastest as the plain kernel
        recursive.rsi(series[start:], distinct[0], out[0, start:])
    elif start < len(series):
        _rsi_sorted(series[start:], np.array(padded, dtype=np.int64), out[:, start:])
    return {n: out[j] for j, n in enumerate(distinct)}


# Rolling std: two divisions and a square root per window and bar. With many windows their
# running sums are advanced bar by bar (vector lanes across windows) and every STD_CHUNK
# bars the std of each window is worked out from the stored sums (vector lanes across
# bars); a few windows run faster one after the other.
STD_CHUNK = 32
WINDOWS_TOGETHER = 6  # from this many windows on, they are computed together


@numba.njit(cache=True, error_model="numpy")
def _rolling_std(x: np.ndarray, n: int, scale: float, out: np.ndarray) -> None:
    """`rolling_mean_std`'s sample std (ddof 1) of x over n bars times `scale`, without
    the mean; the anchor moves every n bars as there (counted down, not by a modulo)."""
    size = x.shape[0]
    anchor = x[0] if size > 0 else 0.0
    shifted = shifted_sq = 0.0
    run = countdown = 0
    for i in range(size):
        value = x[i]
        run = run + 1 if i > 0 and value == x[i - 1] else 1
        delta = value - anchor
        shifted += delta
        shifted_sq += delta * delta
        if i >= n:
            delta = x[i - n] - anchor
            shifted -= delta
            shifted_sq -= delta * delta
        if i < n - 1:
            out[i] = np.nan
            continue
        if countdown == 0:
            countdown = n
            anchor = value
            shifted, shifted_sq = shifted_sums(x, i - n + 1, i + 1, anchor)
        countdown -= 1
        spread = shifted_sq - shifted * shifted / n
        if run >= n or spread < 0.0:
            spread = 0.0
        out[i] = math.sqrt(spread / (n - 1)) * scale


@numba.njit(cache=True, error_model="numpy")
def _reanchor(x: np.ndarray, i: int, windows: np.ndarray, active: int, anchor: np.ndarray,
              shifted: np.ndarray, squares: np.ndarray, reset_at: np.ndarray) -> int:
    """Move the anchor of the windows due at bar i to x[i] and rebuild their sums from
    the window (every n bars from bar n - 1, as `rolling_mean_std`); the next bar due."""
    due = x.shape[0]
    for j in range(windows.shape[0]):
        if j < active and reset_at[j] == i:
            reset_at[j] = i + windows[j]
            anchor[j] = x[i]
            shifted[j], squares[j] = shifted_sums(x, i - windows[j] + 1, i + 1, x[i])
        due = min(due, reset_at[j])
    return due


@numba.njit(cache=True, error_model="numpy")
def _std_values(sums: np.ndarray, squares: np.ndarray, runs: np.ndarray, n: int,
                scale: float, out: np.ndarray) -> None:
    """`rolling_mean_std`'s std (ddof 1) from the anchored sums: 0 for a negative spread
    or a window of one repeated value."""
    size = float(n)
    for k in range(out.shape[0]):
        total = sums[k]
        spread = squares[k] - total * total / size
        spread = 0.0 if runs[k] >= size or spread < 0.0 else spread
        out[k] = math.sqrt(spread / (size - 1.0)) * scale


@numba.njit(cache=True, error_model="numpy")
def _rolling_stds(series: np.ndarray, start: int, windows: np.ndarray, scale: float,
                  out: np.ndarray) -> None:
    """`rolling_mean_std`'s sample std of series[start:] over each of the ascending
    `windows`, times `scale`, into the rows of `out` from column `start` (NaN for the
    first n - 1 bars). Whole rows are passed so that numba knows them contiguous."""
    x = series[start:]
    size, count = x.shape[0], windows.shape[0]
    # arrays allocated here (not passed in) are known not to overlap: the loops vectorise
    anchor, shifted, squares, old = np.zeros(count), np.zeros(count), np.zeros(count), \
        np.zeros(count)
    reset_at = windows - 1
    sums, sums_sq = np.empty((count, STD_CHUNK)), np.empty((count, STD_CHUNK))
    runs = np.empty(STD_CHUNK)  # bars of one repeated value up to each bar
    for j in range(count):
        out[j, start:start + min(windows[j] - 1, size)] = np.nan
    due, active, run = windows[0] - 1, 0, 0
    for begin in range(0, size, STD_CHUNK):
        end = min(begin + STD_CHUNK, size)
        for i in range(begin, end):
            value = x[i]
            run = run + 1 if i > 0 and value == x[i - 1] else 1
            runs[i - begin] = run
            while active < count and windows[active] - 1 <= i:
                active += 1
            for j in range(active):  # bar i joins each window, bar i - n leaves it
                gone = i - windows[j]
                if gone >= 0:
                    old[j] = x[gone]
            for j in range(active):
                delta, leaving = value - anchor[j], old[j] - anchor[j]
                total, total_sq = shifted[j] + delta, squares[j] + delta * delta
                shifted[j], squares[j] = total - leaving, total_sq - leaving * leaving
            if i == due:
                due = _reanchor(x, i, windows, active, anchor, shifted, squares, reset_at)
            for j in range(active):
                sums[j, i - begin], sums_sq[j, i - begin] = shifted[j], squares[j]
        for j in range(count):
            first = max(begin, windows[j] - 1)
            if first < end:
                _std_values(sums[j, first - begin:end - begin],
                            sums_sq[j, first - begin:end - begin],
                            runs[first - begin:end - begin], windows[j], scale,
                            out[j, start + first:start + end])


@numba.njit(cache=True, error_model="numpy")
def _ratios(values: np.ndarray, out: np.ndarray) -> bool:
    """out[0] = NaN, out[t] = values[t] / values[t - 1]; whether every ratio is positive
    or NaN (numpy's log warns of nothing then)."""
    quiet = True
    if values.shape[0]:
        out[0] = np.nan
    for t in range(1, values.shape[0]):
        ratio = values[t] / values[t - 1]
        out[t] = ratio
        quiet = quiet and not ratio <= 0.0
    return quiet


def log_returns(close: np.ndarray) -> np.ndarray:
    """`realized_volatility`'s log returns: NaN at bar 0, then numpy's log of c[t] / c[t-1]
    (numpy's, not numba's: the two logs may differ in the last bit)."""
    values = as_series(close, "close")
    returns = np.empty(len(values))
    if _ratios(values, returns):
        np.log(returns[1:], out=returns[1:])
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            np.log(returns[1:], out=returns[1:])
    return returns


def realized_volatility_by_window(
    close: np.ndarray, windows: Iterable[int], periods_per_year: float | None = None
) -> dict[int, np.ndarray]:
    """`{n: realized_volatility(close, n, periods_per_year)}` for each distinct window,
    on log returns computed once."""
    distinct = sorted({check_period(n, "n", minimum=2) for n in windows})
    if not distinct:
        return {}
    returns = log_returns(close)
    scale = 1.0
    if periods_per_year is not None:
        scale = math.sqrt(check_non_negative_float(periods_per_year, "periods_per_year"))
    start = first_valid_index(returns)
    out = np.empty((len(distinct), len(returns)))
    out[:, :start] = np.nan
    if len(distinct) >= WINDOWS_TOGETHER:
        _rolling_stds(returns, start, np.array(distinct, dtype=np.int64), scale, out)
    else:
        for j, n in enumerate(distinct):
            _rolling_std(returns[start:], n, scale, out[j, start:])
    return {n: out[j] for j, n in enumerate(distinct)}
