"""Swing-point kernel.

Guarantees: out[t] is x[t-right] when the bar at p = t-right is a pivot, judged
on bars p-left..t only (so the value is known at the close of bar t, never
earlier); NaN otherwise and during the first left+right bars. A pivot high is
strictly above each of its `left` predecessors and at least as high as each of
its `right` successors: of a flat top, only the first bar counts.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def confirmed_pivots(x: np.ndarray, left: int, right: int, sign: float, out: np.ndarray) -> None:
    """sign=+1 for swing highs, -1 for swing lows."""
    for t in range(len(x)):
        out[t] = np.nan
        pivot = t - right
        if pivot - left < 0:
            continue
        value = sign * x[pivot]
        if np.isnan(value):
            continue
        confirmed = True
        for j in range(pivot - left, pivot):
            if not sign * x[j] < value:
                confirmed = False
                break
        if confirmed:
            for j in range(pivot + 1, t + 1):
                if not sign * x[j] <= value:
                    confirmed = False
                    break
        if confirmed:
            out[t] = x[pivot]
