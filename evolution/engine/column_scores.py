"""One instrument's figures for many genomes at once, equal bit for bit to `objectives.py`.

The GA scores every genome on every instrument from its per-bar net returns
(see `objectives.py` for the definitions). Done one genome at a time that is a
dozen numpy passes per genome; here the returns of a whole batch are one
(genomes, bars) matrix and the passes run once, compiled, row by row.

Guarantees:
- `pairwise_sum(x)` equals `np.sum(x)` bit for bit: numpy's pairwise summation
  (8 accumulators over blocks of at most 128 values, halves split at a multiple
  of 8), reproduced operation for operation, so means and standard deviations
  built on it equal `np.mean` / `np.std(ddof=1)`;
- `compound_by_bin` is the one definition of a compounded return per bin (a
  sub-period, a ledger period): the product of 1 + r over its bars in bar order,
  a return below -100% counting as -100%, less 1;
- `asset_scores(returns, rows, ...)` gives, per listed row, exactly the values
  `objectives.sharpe_ratio` (0 where not finite), `np.prod(1 + r) - 1`,
  `objectives.max_drawdown`, `objectives.span_returns` and the per-period
  compounding of `evaluation.period_returns` give for that row alone: products
  and running peaks are sequential like numpy's, the bins compounded by
  `compound_by_bin`'s arithmetic, every figure of a row in one compiled visit
  while the row is in cache. The matrix is left as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE


@numba.njit(cache=True, inline="always")
def _term(values: np.ndarray, i: int, centre: float, squared: bool) -> float:
    """values[i], or (values[i] - centre) ** 2 as numpy's `np.square(x - mean)` gives it."""
    if squared:
        deviation = values[i] - centre
        return deviation * deviation
    return values[i]


@numba.njit(cache=True)
def _block_sum(values: np.ndarray, start: int, count: int, centre: float,
               squared: bool) -> float:
    """numpy's sum of at most PAIRWISE_BLOCK terms."""
    if count < 8:
        total = 0.0
        for i in range(start, start + count):
            total += _term(values, i, centre, squared)
        return total
    r0 = _term(values, start, centre, squared)
    r1 = _term(values, start + 1, centre, squared)
    r2 = _term(values, start + 2, centre, squared)
    r3 = _term(values, start + 3, centre, squared)
    r4 = _term(values, start + 4, centre, squared)
    r5 = _term(values, start + 5, centre, squared)
    r6 = _term(values, start + 6, centre, squared)
    r7 = _term(values, start + 7, centre, squared)
    i = 8
    whole = count - count % 8
    while i < whole:
        at = start + i
        r0 += _term(values, at, centre, squared)
        r1 += _term(values, at + 1, centre, squared)
        r2 += _term(values, at + 2, centre, squared)
        r3 += _term(values, at + 3, centre, squared)
        r4 += _term(values, at + 4, centre, squared)
        r5 += _term(values, at + 5, centre, squared)
        r6 += _term(values, at + 6, centre, squared)
        r7 += _term(values, at + 7, centre, squared)
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < count:
        total += _term(values, start + i, centre, squared)
        i += 1
    return total


@numba.njit(cache=True)
def _pairwise(values: np.ndarray, start: int, count: int, centre: float,
              squared: bool) -> float:
    """numpy's recursive halving, with an explicit stack (numba caches recursive functions
    badly): a block is summed directly, a longer span as (left half) + (right half)."""
    starts = np.empty(64, np.int64)
    counts = np.empty(64, np.int64)
    halves = np.empty(64, np.int64)
    lefts = np.empty(64)
    left_done = np.zeros(64, np.bool_)
    top = 0
    starts[0], counts[0] = start, count
    while True:
        if counts[top] > PAIRWISE_BLOCK:  # split: the left half first
            half = counts[top] // 2
            half -= half % 8
            halves[top], left_done[top] = half, False
            starts[top + 1], counts[top + 1] = starts[top], half
            top += 1
            continue
        value = _block_sum(values, starts[top], counts[top], centre, squared)
        top -= 1
        while top >= 0 and left_done[top]:  # both halves known: combine, go up
            value = lefts[top] + value
            top -= 1
        if top < 0:
            return value
        lefts[top], left_done[top] = value, True  # now the right half
        starts[top + 1] = starts[top] + halves[top]
        counts[top + 1] = counts[top] - halves[top]
        top += 1


@numba.njit(cache=True)
def pairwise_sum(values: np.ndarray) -> float:
    """`np.sum(values)` of a contiguous 1-D float64 array, bit for bit."""
    return 0.0 + _pairwise(values, 0, values.shape[0], 0.0, False)


@numba.njit(cache=True)
def squared_deviation_sum(values: np.ndarray, mean: float) -> float:
    """`np.sum(np.square(values - mean))`, bit for bit, without the temporary array."""
    return 0.0 + _pairwise(values, 0, values.shape[0], mean, True)


@numba.njit(cache=True)
def _numpy_maximum(a: float, b: float) -> float:
    return a if a >= b or np.isnan(a) else b


@numba.njit(cache=True)
def _row_statistics(row: np.ndarray) -> tuple[float, float, float, float]:
    """(mean, std with ddof=1, product of 1 + r, lowest equity / running peak - 1) of a
    row of at least two returns (numpy's `mean`, `std`, `prod`, `cumprod`,
    `maximum.accumulate` and `min`, operation for operation; a zero return leaves the
    product, the peak and the drawdown as they were, so it is skipped)."""
    n = row.shape[0]
    mean = pairwise_sum(row) / n
    std = np.sqrt(squared_deviation_sum(row, mean) / (n - 1))
    equity = 1.0 + row[0]
    peak = _numpy_maximum(equity, 1.0)
    lowest = equity / peak - 1.0
    for i in range(1, n):
        if row[i] == 0.0:
            continue
        equity = equity * (1.0 + row[i])
        peak = _numpy_maximum(peak, _numpy_maximum(equity, 1.0))
        drawdown = equity / peak - 1.0
        if np.isnan(drawdown) or np.isnan(lowest):
            lowest = np.nan
        elif drawdown < lowest:
            lowest = drawdown
    return mean, std, equity, lowest


@numba.njit(cache=True)
def compound_by_bin(returns: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    """out[b] = the product of 1 + r over the returns of bin b (`index` gives each return's
    bin), in bar order, less 1; a return below -100% counts as -100%; 0.0 for a bin without
    returns. (A zero return multiplies by exactly 1.0: it is skipped.)"""
    out[:] = 1.0
    for i in range(returns.shape[0]):
        r = returns[i]
        if r != 0.0:
            out[index[i]] *= 1.0 + (r if r > -1.0 else -1.0)
    for b in range(out.shape[0]):
        out[b] -= 1.0


@numba.njit(cache=True)
def _finite_row_scores(
    row: np.ndarray, mean: float, span_index: np.ndarray, period_index: np.ndarray,
    span_out: np.ndarray, period_out: np.ndarray,
) -> tuple[float, float, bool]:
    """(product of 1 + r, lowest equity / running peak - 1, done) of a row of finite
    returns, and its compounded returns per span and per period (non-decreasing indices),
    in one visit: the values `_row_statistics` and `compound_by_bin` give.

    The products are the same multiplications in the same order (a zero return multiplies
    by exactly 1.0, leaves the peak and the trough as they were: it is skipped; its bin's
    product stays as it was, so a bin of zeros keeps its 0.0). The drawdown divides once per run of bars under one peak, by its
    lowest equity: for a fixed peak, e / peak - 1 rounds monotonically in e, so the lowest
    equity of a run gives its lowest drawdown. Not done (False) if the equity overflows:
    the caller then takes the general path."""
    span_out[:] = 0.0  # bins without bars
    period_out[:] = 0.0
    equity = 1.0 + row[0]
    peak = max(equity, 1.0)
    trough = equity
    lowest = equity / peak - 1.0
    span, period = span_index[0], period_index[0]
    r = row[0]
    span_growth = period_growth = 1.0 + (r if r > -1.0 else -1.0)
    for i in range(1, row.shape[0]):
        r = row[i]
        if r == 0.0:  # flat between trades, in runs (a well predicted branch): nothing moves
            continue
        equity = equity * (1.0 + r)
        high = max(equity, 1.0)
        if high > peak:  # a new peak: the run under the old one is over
            lowest = min(lowest, trough / peak - 1.0)
            peak, trough = high, equity
        trough = min(trough, equity)
        factor = 1.0 + (r if r > -1.0 else -1.0)
        if span_index[i] != span:
            span_out[span] = span_growth - 1.0
            span, span_growth = span_index[i], 1.0
        if period_index[i] != period:
            period_out[period] = period_growth - 1.0
            period, period_growth = period_index[i], 1.0
        span_growth *= factor
        period_growth *= factor
    span_out[span] = span_growth - 1.0
    period_out[period] = period_growth - 1.0
    lowest = min(lowest, trough / peak - 1.0)
    return equity, lowest, bool(np.isfinite(equity)) and np.isfinite(mean)


@numba.njit(cache=True)
def _row_scores(
    returns: np.ndarray, rows: np.ndarray, span_index: np.ndarray, period_index: np.ndarray,
    stats: np.ndarray, span_totals: np.ndarray, period_totals: np.ndarray,
) -> None:
    """Each listed row's statistics and compounded returns per span and per period: one
    visit of a row of finite returns (the mean, a sum, is finite only if they all are),
    the general definitions for any other row."""
    for k in range(rows.shape[0]):
        row = returns[rows[k]]
        n = row.shape[0]
        mean = pairwise_sum(row) / n
        std = np.sqrt(squared_deviation_sum(row, mean) / (n - 1))
        stats[k, 0], stats[k, 1] = mean, std
        stats[k, 2], stats[k, 3], done = _finite_row_scores(
            row, mean, span_index, period_index, span_totals[k], period_totals[k])
        if not done:
            stats[k, 0], stats[k, 1], stats[k, 2], stats[k, 3] = _row_statistics(row)
            compound_by_bin(row, span_index, span_totals[k])
            compound_by_bin(row, period_index, period_totals[k])


@dataclass(frozen=True, eq=False)
class AssetScores:
    """Per genome (row) figures of one instrument."""

    sharpe: np.ndarray  # annualised Sharpe, 0 where flat or undefined
    total_return: np.ndarray
    max_drawdown: np.ndarray  # in [0, 1]
    span_totals: np.ndarray  # (genomes, spans) compounded return per sub-period
    period_totals: np.ndarray  # (genomes, periods) compounded return per ledger period


def _sharpe(mean: float, std: float, periods_per_year: float) -> float:
    """`objectives.sharpe_ratio` from the mean and standard deviation."""
    value = float(mean) / float(std) * math.sqrt(periods_per_year) if std > 0 else math.nan
    return value if math.isfinite(value) else 0.0


def _max_drawdown(lowest: float) -> float:
    """`objectives.max_drawdown` from the lowest equity / peak - 1."""
    return float(np.clip(-float(min(np.float64(lowest), 0.0)), 0.0, 1.0))


def asset_scores(
    returns: np.ndarray,
    rows: np.ndarray,
    periods_per_year: float,
    span_index: np.ndarray,
    spans: int,
    period_index: np.ndarray,
    periods: int,
) -> AssetScores:
    """The figures of the listed `rows` of `returns` (genomes, bars), C-ordered float64,
    in the order listed. `span_index` / `period_index` give each bar's sub-period and
    ledger period, in time order."""
    if returns.shape[1] < 2:
        raise ValueError("a genome is scored on at least two bars")
    if np.any(np.diff(span_index) < 0) or np.any(np.diff(period_index) < 0):
        raise ValueError("bars must be in time order")
    rows = np.asarray(rows, dtype=np.int64)
    stats = np.empty((len(rows), 4))
    span_totals, period_totals = np.empty((len(rows), spans)), np.empty((len(rows), periods))
    _row_scores(returns, rows, span_index, period_index, stats, span_totals, period_totals)
    return AssetScores(
        sharpe=np.array([_sharpe(m, s, periods_per_year) for m, s in stats[:, :2]]),
        total_return=stats[:, 2] - 1.0,
        max_drawdown=np.array([_max_drawdown(v) for v in stats[:, 3]]),
        span_totals=span_totals,
        period_totals=period_totals,
    )
