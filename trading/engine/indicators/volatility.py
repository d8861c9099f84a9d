"""Volatility and range indicators: true range, ATR, Bollinger bands, Donchian channel,
realised volatility.

Guarantees: same-length float64 outputs, NaN during warm-up, the value at bar t
uses bars <= t only.
- `true_range`: NaN at bar 0 (no previous close), as TA-Lib TRANGE.
- `atr`: TA-Lib ATR, the mean of true ranges 1..n at bar n, then Wilder.
- `bollinger`: middle = SMA (identical to `sma`), width k * population std
  (ddof=0) of the same window; the std comes from re-anchored shifted sums,
  not TA-Lib's E[x^2]-E[x]^2, so it stays accurate on high-priced series
  (bands agree with TA-Lib to ~1e-12 relative; the std itself is closer to an
  exact two-pass std than TA-Lib's is).
- `donchian`: upper[t] = max(high[t-n:t]), lower[t] = min(low[t-n:t]): the
  PREVIOUS n bars, never bar t itself, so "close above the channel" is a real
  breakout. NaN for t < n.
- `realized_volatility`: sample std (ddof=1) of the last n log returns, first
  value at bar n; multiplied by sqrt(periods_per_year) when given.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from trading.engine.indicators.inputs import (
    as_same_length,
    as_series,
    check_non_negative_float,
    check_period,
    nan_array,
    run_on_valid_tail,
)
from trading.engine.indicators.kernels import recursive, rolling


def true_range(high: ArrayLike, low: ArrayLike, close: ArrayLike) -> np.ndarray:
    """max(high-low, |high-prev close|, |low-prev close|); NaN at bar 0."""
    h, lo, c = as_same_length(("high", high), ("low", low), ("close", close))
    (out,) = run_on_valid_tail(recursive.true_range, [h, lo, c])
    return out


def atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, n: int = 14) -> np.ndarray:
    """Wilder's average true range; first value at bar n."""
    n = check_period(n)
    h, lo, c = as_same_length(("high", high), ("low", low), ("close", close))
    (out,) = run_on_valid_tail(recursive.wilder_average_true_range, [h, lo, c], (n,))
    return out


def bollinger(
    close: ArrayLike, n: int = 20, k: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(upper, middle, lower) = SMA(n) +/- k * population std over the same n bars."""
    n = check_period(n)
    k = check_non_negative_float(k, "k")
    upper, middle, lower = run_on_valid_tail(
        rolling.bollinger_bands, [as_series(close, "close")], (n, k), outputs=3
    )
    return upper, middle, lower


def donchian(
    high: ArrayLike, low: ArrayLike, n: int = 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(upper, lower, middle) of the n bars BEFORE bar t (bar t excluded)."""
    n = check_period(n)
    h, lo = as_same_length(("high", high), ("low", low))
    (upper,) = run_on_valid_tail(rolling.rolling_max_before, [h], (n,))
    (lower,) = run_on_valid_tail(rolling.rolling_min_before, [lo], (n,))
    return upper, lower, (upper + lower) / 2.0


def realized_volatility(
    close: ArrayLike, n: int, periods_per_year: float | None = None
) -> np.ndarray:
    """Rolling sample std of log returns over n bars, annualised when periods_per_year is given."""
    n = check_period(n, "n", minimum=2)
    values = as_series(close, "close")
    returns = nan_array(len(values))
    if len(values) > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            returns[1:] = np.log(values[1:] / values[:-1])
    _, std = run_on_valid_tail(rolling.rolling_mean_std, [returns], (n, 1), outputs=2)
    if periods_per_year is not None:
        std *= math.sqrt(check_non_negative_float(periods_per_year, "periods_per_year"))
    return std
