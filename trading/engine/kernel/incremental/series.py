"""Per-symbol indicator state shared by the incremental agents, and small sliding windows.

Guarantees:
- `SharedSeries` advances each registered indicator exactly once per candle
  (keyed by the candle's open time), however many agents ask for it, so five
  agents reading ATR(14) pay for one update.
- `SortedWindow` keeps the last `size` values pushed (NaN included, as the
  batch arrays include warm-up NaNs) and answers, in O(log n), the median and
  the count of finite values below a threshold exactly as `np.median` and
  `np.count_nonzero(values < x)` would over the finite ones.
- `RollingStats` keeps the last `size` values' sum and sum of squares (drift
  is rebuilt from the stored values every `size` pushes) for means and sample
  standard deviations.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque

from trading.engine.feeds import Candle
from trading.engine.indicators import ATRState, RSIState

NAN = math.nan


class SharedValue:
    """One indicator's latest value; `advance` runs once per candle."""

    __slots__ = ("value", "_update")

    def __init__(self, update: object) -> None:
        self.value = NAN
        self._update = update

    def advance(self, candle: Candle) -> None:
        self.value = self._update(candle)  # type: ignore[operator]


class SharedSeries:
    """Indicators several incremental agents of one symbol read (ATR, RSI by period)."""

    def __init__(self) -> None:
        self._open_ms: int | None = None
        self._values: dict[tuple[str, int], SharedValue] = {}
        self.bars = 0  # candles seen

    def atr(self, period: int) -> SharedValue:
        def make() -> SharedValue:
            state = ATRState(period)
            return SharedValue(lambda c: state.update(c.high, c.low, c.close))

        return self._get(("atr", period), make)

    def rsi(self, period: int) -> SharedValue:
        def make() -> SharedValue:
            state = RSIState(period)
            return SharedValue(lambda c: state.update(c.close))

        return self._get(("rsi", period), make)

    def sync(self, candle: Candle) -> None:
        """Advance every indicator to `candle` (a no-op when already there)."""
        if candle.open_ms == self._open_ms:
            return
        self._open_ms = candle.open_ms
        self.bars += 1
        for value in self._values.values():
            value.advance(candle)

    def _get(self, key: tuple[str, int], make: object) -> SharedValue:
        if self.bars:
            raise RuntimeError("register shared indicators before the first candle")
        found = self._values.get(key)
        if found is None:
            found = self._values[key] = make()  # type: ignore[operator]
        return found


class SortedWindow:
    """The last `size` values, with their finite ones also kept sorted."""

    __slots__ = ("_values", "_sorted")

    def __init__(self, size: int) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []

    def push(self, value: float) -> None:
        values = self._values
        if len(values) == values.maxlen:
            old = values[0]
            if old == old:
                del self._sorted[bisect_left(self._sorted, old)]
        values.append(value)
        if value == value:
            insort(self._sorted, value)

    @property
    def finite_count(self) -> int:
        return len(self._sorted)

    def median(self) -> float:
        """`np.median` of the finite values (NaN when there are none)."""
        ordered = self._sorted
        size = len(ordered)
        if not size:
            return NAN
        middle = size // 2
        if size % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2.0

    def count_below(self, value: float) -> int:
        return bisect_left(self._sorted, value)


class RollingStats:
    """Sum and sum of squares of the last `size` values."""

    __slots__ = ("_values", "_sum", "_squares", "_until_rebuild", "_size")

    def __init__(self, size: int) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._sum = 0.0
        self._squares = 0.0
        self._size = size
        self._until_rebuild = size

    def __len__(self) -> int:
        return len(self._values)

    def push(self, value: float) -> None:
        values = self._values
        if len(values) == values.maxlen:
            old = values[0]
            self._sum -= old
            self._squares -= old * old
        values.append(value)
        self._sum += value
        self._squares += value * value
        self._until_rebuild -= 1
        if not self._until_rebuild:  # drop the rounding drift of add-and-subtract
            self._until_rebuild = self._size
            self._sum = math.fsum(values)
            self._squares = math.fsum(v * v for v in values)

    @property
    def total(self) -> float:
        return self._sum

    def mean(self) -> float:
        return self._sum / len(self._values) if self._values else NAN

    def sample_std(self) -> float:
        """Standard deviation with ddof=1 (NaN under two values)."""
        n = len(self._values)
        if n < 2:
            return NAN
        variance = (self._squares - self._sum * self._sum / n) / (n - 1)
        return math.sqrt(variance) if variance > 0.0 else 0.0
