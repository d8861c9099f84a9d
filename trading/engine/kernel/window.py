"""The kernel's market window: the last N closed bars of one symbol, without copies.

Guarantees: `append` writes one candle in O(1) (each value is stored twice, at
i and i + capacity, so the newest `capacity` bars are always one contiguous
slice); `bars()` returns them oldest first as a `Bars` of read-only views into
the buffer, valid until the next append. Candles must come in time order
(the kernel's feed guard has checked them).
"""

from __future__ import annotations

import numpy as np

from trading.engine.feeds import Candle
from trading.engine.market import Bars


class BarWindow:
    def __init__(self, symbol: str, timeframe: str, capacity: int) -> None:
        if capacity < 2:
            raise ValueError("a bar window needs a capacity of at least 2")
        self.symbol = symbol
        self.timeframe = timeframe
        self.capacity = capacity
        self._timestamps = np.zeros(2 * capacity, dtype=np.int64)
        self._values = np.zeros((5, 2 * capacity))  # open, high, low, close, volume
        self._next = 0
        self._count = 0
        self._cached: Bars | None = None

    def __len__(self) -> int:
        return self._count

    @property
    def last_open_ms(self) -> int | None:
        if not self._count:
            return None
        return int(self._timestamps[self._next - 1 + self.capacity])

    def append(self, candle: Candle) -> None:
        i, twin = self._next, self._next + self.capacity
        row = (candle.open, candle.high, candle.low, candle.close, candle.volume)
        self._timestamps[i] = self._timestamps[twin] = candle.open_ms
        values = self._values
        values[:, i] = row
        values[:, twin] = row
        self._next = (i + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)
        self._cached = None

    def bars(self) -> Bars:
        """The window, oldest first (views: do not keep them past the next append)."""
        if self._cached is not None:
            return self._cached
        end = (self._next - 1) % self.capacity + 1 + self.capacity
        start = end - self._count
        v = self._values
        self._cached = Bars(
            timestamps=self._timestamps[start:end],
            open=v[0, start:end],
            high=v[1, start:end],
            low=v[2, start:end],
            close=v[3, start:end],
            volume=v[4, start:end],
            symbol=self.symbol,
            timeframe=self.timeframe,
        )
        return self._cached
