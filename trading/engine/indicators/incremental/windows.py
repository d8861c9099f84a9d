"""Building blocks of the incremental indicators: sliding windows and seeded EMAs.

Guarantees: each class repeats, in plain Python floats, the arithmetic of the
matching numba kernel in `indicators.kernels` (same operations, same order),
so a value produced bar by bar equals the batch value at that bar.
"""

from __future__ import annotations

import math
from collections import deque

NAN = math.nan


class LeadingNaNGate:
    """Ignores bars until every input is a number, as batch functions skip leading NaNs."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = False

    def closed(self, *values: float) -> bool:
        """True while the data has not started yet (this bar must be ignored)."""
        if not self.started:
            if any(math.isnan(v) for v in values):
                return True
            self.started = True
        return False


class RunningMean:
    """TA-Lib SMA: add the newest, emit total/n, subtract the oldest (kernel `rolling_mean`)."""

    __slots__ = ("n", "_total", "_window")

    def __init__(self, n: int) -> None:
        self.n = n
        self._total = 0.0
        self._window: deque[float] = deque()

    def update(self, value: float) -> float:
        self._total += value
        self._window.append(value)
        if len(self._window) < self.n:
            return NAN
        mean = self._total / self.n
        self._total -= self._window.popleft()
        return mean


class RollingExtreme:
    """Max (sign=+1) or min (sign=-1) of the last n values with a monotonic deque."""

    __slots__ = ("n", "sign", "_count", "_queue")

    def __init__(self, n: int, sign: float) -> None:
        self.n = n
        self.sign = sign
        self._count = 0
        self._queue: deque[tuple[int, float]] = deque()

    def update(self, value: float) -> float:
        index = self._count
        self._count += 1
        signed = self.sign * value
        while self._queue and self.sign * self._queue[-1][1] <= signed:
            self._queue.pop()
        self._queue.append((index, value))
        if self._queue[0][0] <= index - self.n:
            self._queue.popleft()
        return self._queue[0][1] if index >= self.n - 1 else NAN


class RollingMeanStd:
    """(SMA, rolling std with ddof) exactly as kernel `rolling_mean_std` computes them."""

    __slots__ = ("n", "ddof", "_i", "_anchor", "_total", "_shifted", "_shifted_sq", "_run",
                 "_window")

    def __init__(self, n: int, ddof: int) -> None:
        self.n = n
        self.ddof = ddof
        self._i = -1
        self._anchor = 0.0
        self._total = 0.0
        self._shifted = 0.0
        self._shifted_sq = 0.0
        self._run = 0
        self._window: deque[float] = deque(maxlen=n + 1)  # x[i-n] .. x[i]

    def update(self, value: float) -> tuple[float, float]:
        n = self.n
        self._i += 1
        i = self._i
        if i == 0:
            self._anchor = value
        self._run = self._run + 1 if i > 0 and value == self._window[-1] else 1
        self._window.append(value)
        self._total += value
        delta = value - self._anchor
        self._shifted += delta
        self._shifted_sq += delta * delta
        if i >= n:
            delta = self._window[0] - self._anchor
            self._shifted -= delta
            self._shifted_sq -= delta * delta
        if i < n - 1:
            return NAN, NAN
        if (i - n + 1) % n == 0:
            self._rebuild(list(self._window)[-n:], value)
        mean = self._total / n
        self._total -= self._window[-n]
        spread = self._shifted_sq - self._shifted * self._shifted / n
        if self._run >= n or spread < 0.0:
            spread = 0.0
        return mean, math.sqrt(spread / (n - self.ddof))

    def _rebuild(self, recent: list[float], anchor: float) -> None:
        self._anchor = anchor
        self._shifted = 0.0
        self._shifted_sq = 0.0
        for v in recent:
            delta = v - anchor
            self._shifted += delta
            self._shifted_sq += delta * delta


class SeededEMA:
    """EMA with factor k, first value at the `first`-th update: the mean of the last n inputs."""

    __slots__ = ("n", "k", "first", "_count", "_prev", "_seed")

    def __init__(self, n: int, k: float, first: int) -> None:
        self.n = n
        self.k = k
        self.first = first
        self._count = 0
        self._prev = NAN
        self._seed: deque[float] = deque(maxlen=n)

    def update(self, value: float) -> float:
        index = self._count
        self._count += 1
        if index < self.first:
            self._seed.append(value)
            return NAN
        if index == self.first:
            self._seed.append(value)
            total = 0.0
            for v in self._seed:
                total += v
            self._prev = total / self.n
            self._seed.clear()
            return self._prev
        self._prev = ((value - self._prev) * self.k) + self._prev
        return self._prev


def bar_true_range(high: float, low: float, prev_close: float) -> float:
    """max(high - low, |prev_close - high|, |low - prev_close|) in TA-Lib's order."""
    greatest = high - low
    from_close = abs(prev_close - high)
    if from_close > greatest:
        greatest = from_close
    from_close = abs(low - prev_close)
    if from_close > greatest:
        greatest = from_close
    return greatest
