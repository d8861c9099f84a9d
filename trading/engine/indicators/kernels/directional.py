"""Directional movement kernel: TA-Lib PLUS_DI, MINUS_DI and ADX in one pass.

Guarantees: the same arithmetic as TA-Lib's C code. Directional movements and
true ranges of bars 1..n-1 are summed, then Wilder-smoothed from bar n on as
s - s/n + new; DI = 100 * dm / tr (0 when |tr| < 1e-8, TA-Lib's zero test).
ADX at bar 2n-1 is the mean of the n DX values of bars n..2n-1 (a bar whose DX
is undefined adds 0), then (adx*(n-1) + dx)/n, left unchanged on bars whose DX
is undefined.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from trading.engine.indicators.kernels.recursive import TA_EPSILON, bar_true_range


@njit(cache=True)
def directional_movement(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int,
    plus_di: np.ndarray, minus_di: np.ndarray, adx: np.ndarray,
) -> None:
    """Fill plus_di / minus_di (from bar n) and adx (from bar 2n-1); NaN before."""
    size = len(close)
    for i in range(size):
        if i < n:
            plus_di[i] = np.nan
            minus_di[i] = np.nan
        if i < 2 * n - 1:
            adx[i] = np.nan
    plus_dm = 0.0
    minus_dm = 0.0
    tr = 0.0
    for i in range(1, min(n, size)):
        diff_p = high[i] - high[i - 1]
        diff_m = low[i - 1] - low[i]
        if diff_m > 0 and diff_p < diff_m:
            minus_dm += diff_m
        elif diff_p > 0 and diff_p > diff_m:
            plus_dm += diff_p
        tr += bar_true_range(high[i], low[i], close[i - 1])
    sum_dx = 0.0
    prev_adx = 0.0
    for i in range(n, size):
        diff_p = high[i] - high[i - 1]
        diff_m = low[i - 1] - low[i]
        minus_dm -= minus_dm / n
        plus_dm -= plus_dm / n
        if diff_m > 0 and diff_p < diff_m:
            minus_dm += diff_m
        elif diff_p > 0 and diff_p > diff_m:
            plus_dm += diff_p
        tr = tr - (tr / n) + bar_true_range(high[i], low[i], close[i - 1])
        dx = np.nan
        if -TA_EPSILON < tr < TA_EPSILON:
            plus_di[i] = 0.0
            minus_di[i] = 0.0
        else:
            m_di = 100.0 * (minus_dm / tr)
            p_di = 100.0 * (plus_dm / tr)
            plus_di[i] = p_di
            minus_di[i] = m_di
            di_sum = m_di + p_di
            if not (-TA_EPSILON < di_sum < TA_EPSILON):
                dx = 100.0 * (abs(m_di - p_di) / di_sum)
        if i < 2 * n - 1:
            if not np.isnan(dx):
                sum_dx += dx
            continue
        if i == 2 * n - 1:
            if not np.isnan(dx):
                sum_dx += dx
            prev_adx = sum_dx / n
        elif not np.isnan(dx):
            prev_adx = ((prev_adx * (n - 1)) + dx) / n
        adx[i] = prev_adx
