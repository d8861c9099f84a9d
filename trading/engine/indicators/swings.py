"""Swing highs and lows (fractal pivots), reported when confirmed, never earlier.

Guarantees: out[t] is the pivot price of bar p = t - right when that bar is a
swing point judged on bars p-left..t; NaN otherwise and for t < left + right.
The pivot bar needs `right` later bars to be confirmed, so the value appears
`right` bars after the pivot: a strategy reading out[t] at bar t uses no
future data. A swing high is strictly above its `left` predecessors and at
least as high as its `right` successors (of a flat top, only the first bar
counts); swing lows mirror this.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from trading.engine.indicators.inputs import as_series, check_period
from trading.engine.indicators.kernels import pivots


def swing_highs(high: ArrayLike, left: int = 2, right: int = 2) -> np.ndarray:
    """Swing-high price confirmed at each bar (pivot at t-right), NaN elsewhere."""
    return _confirmed(high, left, right, 1.0, "high")


def swing_lows(low: ArrayLike, left: int = 2, right: int = 2) -> np.ndarray:
    """Swing-low price confirmed at each bar (pivot at t-right), NaN elsewhere."""
    return _confirmed(low, left, right, -1.0, "low")


def _confirmed(values: ArrayLike, left: int, right: int, sign: float, name: str) -> np.ndarray:
    left = check_period(left, "left", minimum=0)
    right = check_period(right, "right", minimum=0)
    series = as_series(values, name)
    out = np.empty(len(series))
    pivots.confirmed_pivots(series, left, right, sign, out)
    return out
