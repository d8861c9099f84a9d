"""Incremental trend indicators: ADX with +DI/-DI, Ichimoku.

Guarantees: `ADXState.update` returns `adx` at that bar and leaves `plus_di` /
`minus_di` of the same bar on the instance; `IchimokuState.update` returns
(tenkan, kijun, senkou_a, senkou_b) as `ichimoku` gives them, the spans being
the displaced cloud known at the bar.
"""

from __future__ import annotations

from collections import deque

from trading.engine.indicators.incremental.windows import (
    NAN,
    LeadingNaNGate,
    RollingExtreme,
    bar_true_range,
)
from trading.engine.indicators.inputs import check_period
from trading.engine.indicators.kernels.recursive import TA_EPSILON


class ADXState:
    """TA-Lib ADX; `plus_di` and `minus_di` hold the latest DI values (NaN before bar n)."""

    def __init__(self, n: int = 14) -> None:
        self.n = check_period(n, "n", minimum=2)
        self._gate = LeadingNaNGate()
        self._bar = -1
        self._prev: tuple[float, float, float] | None = None
        self._plus_dm = self._minus_dm = self._tr = 0.0
        self._sum_dx = 0.0
        self._adx = NAN
        self.plus_di = NAN
        self.minus_di = NAN

    def update(self, high: float, low: float, close: float) -> float:
        if self._gate.closed(high, low, close):
            return NAN
        h, lo, c = float(high), float(low), float(close)
        self._bar += 1
        prev, self._prev = self._prev, (h, lo, c)
        if prev is None:
            return NAN
        n, bar = self.n, self._bar
        diff_p = h - prev[0]
        diff_m = prev[1] - lo
        tr = bar_true_range(h, lo, prev[2])
        if bar < n:
            self._add_movement(diff_p, diff_m)
            self._tr += tr
            return NAN
        self._minus_dm -= self._minus_dm / n
        self._plus_dm -= self._plus_dm / n
        self._add_movement(diff_p, diff_m)
        self._tr = self._tr - (self._tr / n) + tr
        dx = self._dx()
        if bar < 2 * n - 1:
            self._sum_dx += 0.0 if dx != dx else dx
            return NAN
        if bar == 2 * n - 1:
            self._sum_dx += 0.0 if dx != dx else dx
            self._adx = self._sum_dx / n
        elif dx == dx:
            self._adx = ((self._adx * (n - 1)) + dx) / n
        return self._adx

    def _add_movement(self, diff_p: float, diff_m: float) -> None:
        if diff_m > 0 and diff_p < diff_m:
            self._minus_dm += diff_m
        elif diff_p > 0 and diff_p > diff_m:
            self._plus_dm += diff_p

    def _dx(self) -> float:
        """Set plus_di / minus_di for this bar; return DX (NaN when undefined)."""
        if -TA_EPSILON < self._tr < TA_EPSILON:
            self.plus_di = self.minus_di = 0.0
            return NAN
        self.minus_di = 100.0 * (self._minus_dm / self._tr)
        self.plus_di = 100.0 * (self._plus_dm / self._tr)
        di_sum = self.minus_di + self.plus_di
        if -TA_EPSILON < di_sum < TA_EPSILON:
            return NAN
        return 100.0 * (abs(self.minus_di - self.plus_di) / di_sum)


class IchimokuState:
    """(tenkan, kijun, senkou_a, senkou_b) known at each bar; no chikou (it needs the future)."""

    def __init__(
        self, tenkan: int = 9, kijun: int = 26, senkou_b: int = 52, *,
        displacement: int | None = None,
    ) -> None:
        self.tenkan = check_period(tenkan, "tenkan")
        self.kijun = check_period(kijun, "kijun")
        self.senkou_b = check_period(senkou_b, "senkou_b")
        self.displacement = (
            self.kijun if displacement is None
            else check_period(displacement, "displacement", minimum=0)
        )
        self._windows = [
            (RollingExtreme(p, 1.0), RollingExtreme(p, -1.0))
            for p in (self.tenkan, self.kijun, self.senkou_b)
        ]
        self._leading: deque[tuple[float, float]] = deque(maxlen=self.displacement + 1)

    def update(self, high: float, low: float) -> tuple[float, float, float, float]:
        tenkan, kijun, span_b = (
            (highest.update(float(high)) + lowest.update(float(low))) / 2.0
            for highest, lowest in self._windows
        )
        self._leading.append(((tenkan + kijun) / 2.0, span_b))
        if len(self._leading) <= self.displacement:
            return tenkan, kijun, NAN, NAN
        span_a, delayed_b = self._leading[0]
        return tenkan, kijun, span_a, delayed_b
