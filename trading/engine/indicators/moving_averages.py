"""Moving averages: SMA, EMA, WMA (TA-Lib conventions).

Guarantees: outputs have the input's length, NaN during warm-up (the first n-1
bars after any leading NaNs), and the value at bar t uses bars <= t only.
- `sma`: running sum in TA-Lib's order (add newest, subtract oldest).
- `ema`: k = 2/(n+1), seeded at bar n-1 with the SMA of the first n values
  (TA-Lib; pandas' `ewm(adjust=False)` seeds with the first value instead).
- `wma`: linear weights 1..n, newest weighted n.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from trading.engine.indicators.inputs import as_series, check_period, run_on_valid_tail
from trading.engine.indicators.kernels import recursive, rolling


def sma(x: ArrayLike, n: int) -> np.ndarray:
    """Simple moving average of the last n values."""
    n = check_period(n)
    (out,) = run_on_valid_tail(rolling.rolling_mean, [as_series(x)], (n,))
    return out


def ema(x: ArrayLike, n: int) -> np.ndarray:
    """Exponential moving average, k = 2/(n+1), seeded with the SMA of the first n values."""
    n = check_period(n)
    (out,) = run_on_valid_tail(recursive.ema, [as_series(x)], (n, ema_factor(n), n - 1))
    return out


def wma(x: ArrayLike, n: int) -> np.ndarray:
    """Linearly weighted moving average (weights 1..n, newest heaviest)."""
    n = check_period(n)
    (out,) = run_on_valid_tail(rolling.weighted_mean, [as_series(x)], (n,))
    return out


def ema_factor(n: int) -> float:
    """TA-Lib's smoothing factor 2/(n+1)."""
    return 2.0 / (n + 1)
