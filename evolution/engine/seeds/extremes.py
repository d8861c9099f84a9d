"""Highest highs and lowest lows over many window lengths at once, bit for bit what
`trading.engine.indicators` gives, and the fused kernels of the seeds built on them.

A population holds many Donchian, Ichimoku and stochastic blocks, each wanting the
extremes of the same highs and lows over its own window lengths. Max and min are exact
(no rounding), so any algorithm finds the same numbers; the one used here is a sparse
table built once per series and call: row k holds the extreme of every run of 2**k bars,
and the extreme of any window of n bars is the better of the two (overlapping) runs of
2**floor(log2 n) bars that cover it. A window length then costs two reads per bar, in
loops the compiler vectorises, instead of a pass of the library's sliding kernel.

Guarantees:
- `side_of(x, longest, highest, start)` skips x's leading NaNs as `run_on_valid_tail`
  does (or starts at the given `start`, for indicators that skip the leading NaNs of
  several series together); `window_pair(side, n, before)` returns two views of equal length whose
  element-wise better value (`higher` on a highest side, `lower` on a lowest side) is, per
  window end, the value of `rolling_max` / `rolling_min` of
  `trading.engine.indicators.kernels.rolling` on the tail (windows of n bars ending at
  the bar), or of `rolling_max_before` / `rolling_min_before` (the n bars before it, as
  `donchian`), from the first bar those kernels give a number (a window holding both 0.0
  and -0.0 may give the other zero: equal in every comparison the seeds make);
- a tail holding a NaN gets no table: those kernels' answers around a NaN depend on their
  block layout, so such windows are computed by the kernels themselves (same values,
  one sliding pass per window length);
- `midpoint_into` is Ichimoku's (highest + lowest) / 2.0; `sma_into` and `smas_into` are
  `sma` (the library's running sum in its order, after the leading NaNs; `smas_into`
  advances four of them in one loop); `fast_k_into` is the fast %K of `stochastic`;
  `stochastic_blocks` gives the stochastic seed's signals (its crossings: False wherever
  a NaN is compared) for many parameter sets, each line computed once for the sets
  that share it (`lexical_order` puts those next to each other).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from trading.engine.indicators.kernels import rolling


class Side(NamedTuple):
    """One series ready for window queries: its data starts at `start`; `table` is the
    sparse table of `tail` (no rows when the tail holds a NaN)."""

    start: int
    tail: np.ndarray
    table: np.ndarray
    highest: bool


@numba.njit(cache=True)
def side_of(x: np.ndarray, longest: int, highest: bool, start: int) -> Side:
    """`x` (contiguous float64) for windows of up to `longest` bars, from `start` (from
    the end of its leading NaNs when `start` < 0)."""
    begin = leading_nans(x) if start < 0 else start
    tail = x[begin:]
    return Side(begin, tail, _table(tail, longest, highest), highest)


@numba.njit(cache=True)
def leading_nans(x: np.ndarray) -> int:
    """How many values `x` starts with that are NaN (`first_valid_index`)."""
    for i in range(x.shape[0]):
        if not np.isnan(x[i]):
            return i
    return x.shape[0]


@numba.njit(cache=True, inline="always")
def higher(a: float, b: float) -> float:
    return a if a >= b else b


@numba.njit(cache=True, inline="always")
def lower(a: float, b: float) -> float:
    return a if a <= b else b


@numba.njit(cache=True)
def _table(tail: np.ndarray, longest: int, highest: bool) -> np.ndarray:
    """Row k, index i: the extreme of tail[i : i + 2**k], for every run inside the tail
    (later indices of a row are never read and left unset); rows up to the longest
    window that fits. No rows when the tail holds a NaN."""
    m = tail.shape[0]
    for i in range(m):
        if np.isnan(tail[i]):
            return np.empty((0, m))
    levels = 0
    while levels < 62 and (1 << levels) <= min(longest, m):
        levels += 1
    table = np.empty((levels, m))
    if levels:
        table[0] = tail
    width = 1
    for k in range(1, levels):
        count = m - 2 * width + 1
        a, b, out = table[k - 1, :count], table[k - 1, width:width + count], table[k, :count]
        if highest:
            for i in range(count):
                out[i] = higher(a[i], b[i])
        else:
            for i in range(count):
                out[i] = lower(a[i], b[i])
        width *= 2
    return table


@numba.njit(cache=True)
def window_pair(side: Side, n: int, before: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """(a, b, first): the extreme over the window of bar `first + i` of the tail (the n
    bars ending at it, or the n bars before it) is the better of a[i] and b[i]."""
    tail, table = side.tail, side.table
    m = tail.shape[0]
    first = n if before else n - 1
    if first >= m:
        return tail[m:], tail[m:], m
    count = m - first
    if table.shape[0] == 0:  # a NaN in the tail: the library kernel's own answers
        exact = np.empty(m)
        if before and side.highest:
            rolling.rolling_max_before(tail, n, exact)
        elif before:
            rolling.rolling_min_before(tail, n, exact)
        elif side.highest:
            rolling.rolling_max(tail, n, exact)
        else:
            rolling.rolling_min(tail, n, exact)
        return exact[first:], exact[first:], first
    k = 0
    while (2 << k) <= n:
        k += 1
    width = 1 << k
    return table[k, :count], table[k, n - width:n - width + count], first


@numba.njit(cache=True)
def extreme_into(side: Side, n: int, before: bool, out: np.ndarray) -> None:
    """out = the windows' extremes over the whole series (NaN where the library has NaN)."""
    a, b, first = window_pair(side, n, before)
    begin = side.start + first
    out[:begin] = np.nan
    rest = out[begin:]
    if side.highest:
        for i in range(rest.shape[0]):
            rest[i] = higher(a[i], b[i])
    else:
        for i in range(rest.shape[0]):
            rest[i] = lower(a[i], b[i])


@numba.njit(cache=True)
def midpoint_into(high: Side, low: Side, n: int, out: np.ndarray) -> None:
    """out = (highest high + lowest low) / 2.0 of the n bars ending at each bar."""
    ha, hb, high_first = window_pair(high, n, False)
    la, lb, low_first = window_pair(low, n, False)
    high_begin, low_begin = high.start + high_first, low.start + low_first
    begin = max(high_begin, low_begin)
    out[:begin] = np.nan
    ha, hb = ha[begin - high_begin:], hb[begin - high_begin:]
    la, lb = la[begin - low_begin:], lb[begin - low_begin:]
    rest = out[begin:]
    for i in range(rest.shape[0]):
        rest[i] = (higher(ha[i], hb[i]) + lower(la[i], lb[i])) / 2.0


@numba.njit(cache=True)
def sma_into(x: np.ndarray, n: int, out: np.ndarray) -> None:
    """out = sma(x, n): the library's running sum over the values after x's leading NaNs."""
    start = leading_nans(x)
    out[:start] = np.nan
    rolling.rolling_mean(x[start:], n, out[start:])


@numba.njit(cache=True)
def smas_into(inputs: np.ndarray, sources: np.ndarray, periods: np.ndarray,
              out: np.ndarray) -> None:
    """out[c] = sma(inputs[sources[c]], periods[c]) for each c. A running sum is a chain
    of dependent additions; four chains advanced in one loop run side by side at the
    cost of about one (each still adds and subtracts in the library's order)."""
    whole = periods.shape[0] - periods.shape[0] % 4
    for first in range(0, whole, 4):
        tails = []
        for c in range(first, first + 4):
            start = leading_nans(inputs[sources[c]])
            out[c, :start] = np.nan
            tails.append((inputs[sources[c], start:], out[c, start:]))
        _four_smas(tails[0][0], tails[1][0], tails[2][0], tails[3][0], periods[first:first + 4],
                   tails[0][1], tails[1][1], tails[2][1], tails[3][1])
    for c in range(whole, periods.shape[0]):
        sma_into(inputs[sources[c]], periods[c], out[c])


@numba.njit(cache=True)
def _four_smas(x0: np.ndarray, x1: np.ndarray, x2: np.ndarray, x3: np.ndarray,
               n: np.ndarray, o0: np.ndarray, o1: np.ndarray, o2: np.ndarray,
               o3: np.ndarray) -> None:
    """`rolling_mean` of four series (no leading NaN) of periods n[0..3]: the running sums
    first, together while all four run, then each divided by its period."""
    t0, t1 = _warm_up(x0, n[0], o0), _warm_up(x1, n[1], o1)
    t2, t3 = _warm_up(x2, n[2], o2), _warm_up(x3, n[3], o3)
    steps = max(0, min(x0.shape[0] - n[0], x1.shape[0] - n[1], x2.shape[0] - n[2],
                       x3.shape[0] - n[3]) + 1)
    a0, a1, a2, a3 = x0[n[0] - 1:], x1[n[1] - 1:], x2[n[2] - 1:], x3[n[3] - 1:]
    r0, r1, r2, r3 = o0[n[0] - 1:], o1[n[1] - 1:], o2[n[2] - 1:], o3[n[3] - 1:]
    for s in range(steps):
        t0 += a0[s]
        t1 += a1[s]
        t2 += a2[s]
        t3 += a3[s]
        r0[s], r1[s], r2[s], r3[s] = t0, t1, t2, t3
        t0 -= x0[s]
        t1 -= x1[s]
        t2 -= x2[s]
        t3 -= x3[s]
    _sums_from(x0, n[0], steps, t0, o0)
    _sums_from(x1, n[1], steps, t1, o1)
    _sums_from(x2, n[2], steps, t2, o2)
    _sums_from(x3, n[3], steps, t3, o3)


@numba.njit(cache=True)
def _warm_up(x: np.ndarray, n: int, out: np.ndarray) -> float:
    """`rolling_mean`'s first loop: NaN for the first n - 1 values, their sum in order."""
    total = 0.0
    for i in range(min(n - 1, x.shape[0])):
        out[i] = np.nan
        total += x[i]
    return total


@numba.njit(cache=True)
def _sums_from(x: np.ndarray, n: int, step: int, total: float, out: np.ndarray) -> None:
    """`rolling_mean`'s main loop from bar n - 1 + step on, then every sum divided by n."""
    for i in range(n - 1 + step, x.shape[0]):
        total += x[i]
        out[i] = total
        total -= x[i - n + 1]
    sums = out[n - 1:]
    for i in range(sums.shape[0]):
        sums[i] = sums[i] / n


@numba.njit(cache=True, error_model="numpy")
def fast_k_into(close: np.ndarray, high: Side, low: Side, n: int, out: np.ndarray) -> None:
    """out = fast %K over n bars as `stochastic` computes it; the sides start together."""
    ha, hb, first = window_pair(high, n, False)
    la, lb, _ = window_pair(low, n, False)
    begin = high.start + first
    out[:begin] = np.nan
    rest, price = out[begin:], close[begin:]
    for i in range(rest.shape[0]):  # selects, not branches: the loop vectorises
        highest, lowest = higher(ha[i], hb[i]), lower(la[i], lb[i])
        diff = (highest - lowest) / 100.0
        value = (price[i] - lowest) / diff if diff != 0.0 else 0.0
        rest[i] = np.nan if np.isnan(highest) else value


@numba.njit(cache=True)
def stochastic_rows(
    k_line: np.ndarray, d_line: np.ndarray, oversold: float, overbought: float,
    any_cross: bool, out: np.ndarray,
) -> None:
    """Rows of `out`: entries, exits (and short entries, short exits when it has four) of
    the stochastic seed, from %K crossing %D."""
    out[:, :1] = False
    for pair in range(out.shape[0] // 2):  # longs, then shorts (the mirror image)
        enter, leave = out[2 * pair, 1:], out[2 * pair + 1, 1:]
        k_now, d_now, k_before, d_before = k_line[1:], d_line[1:], k_line[:-1], d_line[:-1]
        for t in range(enter.shape[0]):
            k, d = k_now[t], d_now[t]
            up = (k > d) & (k_before[t] <= d_before[t])
            down = (k < d) & (k_before[t] >= d_before[t])
            low, high = d < oversold, d > overbought
            if pair == 0:
                enter[t], leave[t] = up & low, down & (high | any_cross)
            else:
                enter[t], leave[t] = down & high, up & (low | any_cross)


@numba.njit(cache=True)
def lexical_order(keys: np.ndarray) -> np.ndarray:
    """Row indices of `keys` sorted by its columns, the first column first (stable): the
    parameter sets that share an indicator come one after another."""
    order = np.arange(keys.shape[0])
    for column in range(keys.shape[1] - 1, -1, -1):
        order = order[np.argsort(keys[order, column], kind="mergesort")]
    return order


@numba.njit(cache=True)
def stochastic_blocks(close: np.ndarray, high: np.ndarray, low: np.ndarray,
                      settings: np.ndarray) -> list[np.ndarray]:
    """The stochastic seed's rows for each parameter set (k_period, smooth_k, d_period,
    oversold, overbought, any_cross, allow_short), as `stochastic` and the seed's
    crossings give them (which never read %K where %D is NaN, so the library's masking
    of %K there is left out). The sets are taken in order of their periods, eight at a
    time: each fast %K, slow %K and %D they need computed once (`smas_into`)."""
    n, count = close.shape[0], settings.shape[0]
    start = max(leading_nans(high), leading_nans(low), leading_nans(close))
    periods = settings[:, :3].astype(np.int64)
    longest = periods[:, 0].max() if count else 1
    highs, lows = side_of(high, longest, True, start), side_of(low, longest, False, start)
    chunk = max(1, min(8, count))
    fast, slow, signal = np.empty((chunk, n)), np.empty((chunk, n)), np.empty((chunk, n))
    order = lexical_order(periods)
    out = [np.empty((0, 0), dtype=np.bool_) for _ in range(count)]
    for first in range(0, count, chunk):
        blocks = order[first:first + chunk]
        ks, slow_from, slow_n, signal_from, signal_n, lines = _stochastic_lines(
            periods[blocks])
        for row in range(ks.shape[0]):
            fast_k_into(close, highs, lows, ks[row], fast[row])
        smas_into(fast, slow_from, slow_n, slow)
        smas_into(slow, signal_from, signal_n, signal)
        for b in range(blocks.shape[0]):
            j = blocks[b]
            rows = np.empty((4 if settings[j, 6] else 2, n), dtype=np.bool_)
            stochastic_rows(slow[lines[b, 0]], signal[lines[b, 1]], settings[j, 3],
                            settings[j, 4], settings[j, 5] != 0.0, rows)
            out[j] = rows
    return out


@numba.njit(cache=True)
def _stochastic_lines(periods: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray, np.ndarray, np.ndarray]:
    """For (k, smooth_k, d) rows in lexical order: the distinct k; per distinct (k,
    smooth_k) its fast %K row and period; per distinct (k, smooth_k, d) its slow %K row
    and period; per set its slow %K and %D rows."""
    count = periods.shape[0]
    ks = np.empty(count, dtype=np.int64)
    slow_from, slow_n = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
    signal_from, signal_n = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
    lines = np.empty((count, 2), dtype=np.int64)
    fast = slow = signal = -1
    for b in range(count):
        new_fast = b == 0 or periods[b, 0] != periods[b - 1, 0]
        new_slow = new_fast or periods[b, 1] != periods[b - 1, 1]
        if new_fast:
            fast += 1
            ks[fast] = periods[b, 0]
        if new_slow:
            slow += 1
            slow_from[slow], slow_n[slow] = fast, periods[b, 1]
        if new_slow or periods[b, 2] != periods[b - 1, 2]:
            signal += 1
            signal_from[signal], signal_n[signal] = slow, periods[b, 2]
        lines[b, 0], lines[b, 1] = slow, signal
    return (ks[:fast + 1], slow_from[:slow + 1], slow_n[:slow + 1], signal_from[:signal + 1],
            signal_n[:signal + 1], lines)
