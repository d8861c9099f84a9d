"""Incremental volatility indicators: true range, ATR, Bollinger, Donchian, realised volatility.

Guarantees: `update` returns what the batch function in
`indicators.volatility` returns at that bar (tuples in the same order), NaN
while warming up. Donchian's channel at bar t is built from the bars before t.
"""

from __future__ import annotations

import math

from trading.engine.indicators.incremental.windows import (
    NAN,
    LeadingNaNGate,
    RollingExtreme,
    RollingMeanStd,
    bar_true_range,
)
from trading.engine.indicators.inputs import check_non_negative_float, check_period


class TrueRangeState:
    """True range; NaN on the first bar (no previous close)."""

    def __init__(self) -> None:
        self._gate = LeadingNaNGate()
        self._prev_close = NAN

    def update(self, high: float, low: float, close: float) -> float:
        if self._gate.closed(high, low, close):
            return NAN
        prev, self._prev_close = self._prev_close, float(close)
        if prev != prev:
            return NAN
        return bar_true_range(float(high), float(low), prev)


class ATRState:
    """Wilder ATR: mean of true ranges 1..n at bar n, then (prev*(n-1) + tr)/n."""

    def __init__(self, n: int = 14) -> None:
        self.n = check_period(n)
        self._range = TrueRangeState()
        self._ranges = 0
        self._value = 0.0

    def update(self, high: float, low: float, close: float) -> float:
        tr = self._range.update(high, low, close)
        if tr != tr:
            return NAN
        self._ranges += 1
        n = self.n
        if self._ranges < n:
            self._value += tr
            return NAN
        if self._ranges == n:
            self._value = (self._value + tr) / n
            return self._value
        self._value *= n - 1
        self._value += tr
        self._value /= n
        return self._value


class BollingerState:
    """(upper, middle, lower) = SMA(n) +/- k * population std."""

    def __init__(self, n: int = 20, k: float = 2.0) -> None:
        self.n = check_period(n)
        self.k = check_non_negative_float(k, "k")
        self._gate = LeadingNaNGate()
        self._window = RollingMeanStd(self.n, 0)

    def update(self, close: float) -> tuple[float, float, float]:
        if self._gate.closed(close):
            return NAN, NAN, NAN
        middle, std = self._window.update(float(close))
        width = self.k * std
        return middle + width, middle, middle - width


class DonchianState:
    """(upper, lower, middle) of the n bars before the current one."""

    def __init__(self, n: int = 20) -> None:
        self.n = check_period(n)
        self._highest = RollingExtreme(self.n, 1.0)
        self._lowest = RollingExtreme(self.n, -1.0)
        self._upper = NAN
        self._lower = NAN

    def update(self, high: float, low: float) -> tuple[float, float, float]:
        upper, lower = self._upper, self._lower
        self._upper = self._highest.update(float(high))
        self._lower = self._lowest.update(float(low))
        return upper, lower, (upper + lower) / 2.0


class RealizedVolatilityState:
    """Sample std (ddof=1) of the last n log returns, annualised when periods_per_year is given."""

    def __init__(self, n: int, periods_per_year: float | None = None) -> None:
        self.n = check_period(n, "n", minimum=2)
        self._scale = (
            1.0
            if periods_per_year is None
            else math.sqrt(check_non_negative_float(periods_per_year, "periods_per_year"))
        )
        self._gate = LeadingNaNGate()
        self._window = RollingMeanStd(self.n, 1)
        self._prev = NAN

    def update(self, close: float) -> float:
        if self._gate.closed(close):
            return NAN
        prev, self._prev = self._prev, float(close)
        if prev != prev:
            return NAN
        _, std = self._window.update(math.log(self._prev / prev))
        return std * self._scale if std == std else NAN
