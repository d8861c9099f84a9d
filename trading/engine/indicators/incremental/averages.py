"""Incremental moving averages: SMA, EMA, WMA (and volume MA, which is an SMA of volume).

Guarantees: `update(x)` returns what `sma` / `ema` / `wma` return at that bar
for the series of all values passed so far (NaN while warming up; leading NaN
inputs are skipped as the batch functions skip them).
"""

from __future__ import annotations

from collections import deque

from trading.engine.indicators.incremental.windows import (
    NAN,
    LeadingNaNGate,
    RunningMean,
    SeededEMA,
)
from trading.engine.indicators.inputs import check_period
from trading.engine.indicators.moving_averages import ema_factor


class SMAState:
    """Simple moving average of the last n values."""

    def __init__(self, n: int) -> None:
        self.n = check_period(n)
        self._gate = LeadingNaNGate()
        self._mean = RunningMean(self.n)

    def update(self, x: float) -> float:
        if self._gate.closed(x):
            return NAN
        return self._mean.update(float(x))


class EMAState:
    """EMA seeded with the SMA of the first n values (TA-Lib)."""

    def __init__(self, n: int) -> None:
        self.n = check_period(n)
        self._gate = LeadingNaNGate()
        self._ema = SeededEMA(self.n, ema_factor(self.n), self.n - 1)

    def update(self, x: float) -> float:
        if self._gate.closed(x):
            return NAN
        return self._ema.update(float(x))


class WMAState:
    """Linearly weighted moving average, totals rebuilt every 8n bars like the batch kernel."""

    def __init__(self, n: int) -> None:
        self.n = check_period(n)
        self._gate = LeadingNaNGate()
        self._window: deque[float] = deque(maxlen=self.n)
        self._divider = self.n * (self.n + 1) / 2.0
        self._sub = 0.0
        self._sum = 0.0
        self._trailing = 0.0
        self._countdown = 8 * self.n

    def update(self, x: float) -> float:
        if self._gate.closed(x):
            return NAN
        value = float(x)
        n = self.n
        self._window.append(value)
        if n == 1:
            return value
        if len(self._window) < n:
            self._sub += value
            self._sum += value * len(self._window)
            return NAN
        self._sub += value
        self._sub -= self._trailing
        self._sum += value * n
        self._countdown -= 1
        if self._countdown <= 0:
            self._countdown = 8 * n
            self._rebuild()
        self._trailing = self._window[0]
        out = self._sum / self._divider
        self._sum -= self._sub
        return out

    def _rebuild(self) -> None:
        self._sub = 0.0
        self._sum = 0.0
        for weight, v in enumerate(self._window, start=1):
            self._sub += v
            self._sum += v * weight
