"""Incremental swing points: the swing high / low confirmed at each bar.

Guarantees: `update(high, low)` returns (swing_high, swing_low) equal to
`swing_highs` / `swing_lows` at that bar: the pivot of bar t-right, judged on
bars t-right-left..t, or NaN.
"""

from __future__ import annotations

from collections import deque

from trading.engine.indicators.incremental.windows import NAN
from trading.engine.indicators.inputs import check_period


class SwingState:
    """Confirms pivots `right` bars after they happen."""

    def __init__(self, left: int = 2, right: int = 2) -> None:
        self.left = check_period(left, "left", minimum=0)
        self.right = check_period(right, "right", minimum=0)
        size = self.left + self.right + 1
        self._highs: deque[float] = deque(maxlen=size)
        self._lows: deque[float] = deque(maxlen=size)

    def update(self, high: float, low: float) -> tuple[float, float]:
        self._highs.append(float(high))
        self._lows.append(float(low))
        if len(self._highs) < self.left + self.right + 1:
            return NAN, NAN
        return self._pivot(self._highs, 1.0), self._pivot(self._lows, -1.0)

    def _pivot(self, window: deque[float], sign: float) -> float:
        values = list(window)
        pivot = sign * values[self.left]
        if pivot != pivot:
            return NAN
        if not all(sign * v < pivot for v in values[: self.left]):
            return NAN
        if not all(sign * v <= pivot for v in values[self.left + 1 :]):
            return NAN
        return values[self.left]
