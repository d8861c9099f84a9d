"""Incremental volume indicators: OBV, rolling VWAP, session VWAP with bands.

Guarantees: `update` returns what `obv` / `vwap_rolling` / `vwap_session`
return at that bar (NaN while warming up or while no volume has traded). A
volume moving average is `SMAState` fed with volumes.
"""

from __future__ import annotations

import math
from collections import deque

from trading.engine.indicators.incremental.windows import NAN, LeadingNaNGate
from trading.engine.indicators.inputs import check_non_negative_float, check_period


class OBVState:
    """On-balance volume, starting at the first bar's volume."""

    def __init__(self) -> None:
        self._gate = LeadingNaNGate()
        self._prev_close = NAN
        self._total = NAN

    def update(self, close: float, volume: float) -> float:
        if self._gate.closed(close, volume):
            return NAN
        value = float(close)
        prev, self._prev_close = self._prev_close, value
        if prev != prev:
            self._total = float(volume)
        elif value > prev:
            self._total += float(volume)
        elif value < prev:
            self._total -= float(volume)
        return self._total


class VWAPState:
    """Rolling VWAP of the typical price over the last n bars."""

    def __init__(self, n: int) -> None:
        self.n = check_period(n)
        self._gate = LeadingNaNGate()
        self._bars: deque[tuple[float, float]] = deque()  # (typical * volume, volume)
        self._price_volume = 0.0
        self._volume = 0.0
        self._traded = 0

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        if self._gate.closed(high, low, close, volume):
            return NAN
        typical = (float(high) + float(low) + float(close)) / 3.0
        v = float(volume)
        pv = typical * v
        self._bars.append((pv, v))
        self._price_volume += pv
        self._volume += v
        self._traded += 1 if v > 0.0 else 0
        if len(self._bars) > self.n:
            old_pv, old_v = self._bars.popleft()
            self._price_volume -= old_pv
            self._volume -= old_v
            self._traded -= 1 if old_v > 0.0 else 0
        if len(self._bars) < self.n or self._traded == 0:
            return NAN
        return self._price_volume / self._volume


class SessionVWAPState:
    """(vwap, upper, lower) anchored at each session: (timestamp - offset) // session_ms."""

    def __init__(self, session_ms: int = 86_400_000, k: float = 2.0, *, offset_ms: int = 0):
        self.session_ms = check_period(session_ms, "session_ms")
        self.k = check_non_negative_float(k, "k")
        self.offset_ms = int(offset_ms)
        self._session: int | None = None
        self._last_timestamp: int | None = None
        self._weight = 0.0
        self._mean = 0.0
        self._spread = 0.0

    def update(
        self, high: float, low: float, close: float, volume: float, timestamp_ms: int
    ) -> tuple[float, float, float]:
        stamp = int(timestamp_ms)
        if self._last_timestamp is not None and stamp <= self._last_timestamp:
            raise ValueError("timestamps must be strictly increasing")
        self._last_timestamp = stamp
        session = (stamp - self.offset_ms) // self.session_ms
        if session != self._session:
            self._session = session
            self._weight = self._mean = self._spread = 0.0
        w = float(volume)
        if w > 0.0:
            typical = (float(high) + float(low) + float(close)) / 3.0
            self._weight += w
            delta = typical - self._mean
            self._mean += (w / self._weight) * delta
            self._spread += w * delta * (typical - self._mean)
        if self._weight == 0.0:
            return NAN, NAN, NAN
        std = math.sqrt(max(self._spread / self._weight, 0.0))
        return self._mean, self._mean + self.k * std, self._mean - self.k * std
