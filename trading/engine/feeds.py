"""Market data feeds: closed candles and the prices between them.

Guarantees:
- A `Feed` is an iterable of `Candle` (a closed bar, emitted at its close time)
  and `Tick` (one observed price) events in non-decreasing time order.
- `ReplayFeed` replays `Bars` and moves the injected `SimulatedClock` to each
  event's time before yielding it, so everything downstream reads replay time
  from the clock. `speed=None` replays as fast as possible; `speed=k` paces
  events k times faster than real time (1.0 = real time, 3600 = an hour of
  market per second), anchored to the start so sleep errors do not accumulate.
- With an intra-bar path ("OLHC", "OHLC" or "auto") each bar is preceded by
  ticks along open -> low -> high -> close (or open -> high -> low -> close;
  "auto" visits the extreme nearest the open first, the usual assumption, so a
  bullish bar dips first). The ticks split the bar's volume evenly, and the last
  tick is the close at the candle's close time, just before the candle itself.
  They let trailing orders, stops and the paper executor react inside a bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, Protocol, runtime_checkable

from trading.engine.clock import SimulatedClock
from trading.engine.market import Bars, timeframe_ms

PathOrder = Literal["OLHC", "OHLC", "auto"]


@dataclass(frozen=True)
class Candle:
    """A closed bar. `ts_ms` (the event time) is its close time, open_ms + timeframe."""

    symbol: str
    timeframe: str
    open_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    @cached_property
    def ts_ms(self) -> int:
        return self.open_ms + timeframe_ms(self.timeframe)

    @classmethod
    def from_bars(cls, bars: Bars, index: int) -> Candle:
        return cls(
            symbol=bars.symbol,
            timeframe=bars.timeframe,
            open_ms=int(bars.timestamps[index]),
            open=float(bars.open[index]),
            high=float(bars.high[index]),
            low=float(bars.low[index]),
            close=float(bars.close[index]),
            volume=float(bars.volume[index]),
        )


@dataclass(frozen=True)
class Tick:
    """One observed price. `volume` is the base volume it stands for (inf = unknown)."""

    symbol: str
    ts_ms: int
    price: float
    volume: float = float("inf")


FeedEvent = Candle | Tick


@runtime_checkable
class Feed(Protocol):
    def __iter__(self) -> Iterator[FeedEvent]: ...


def intrabar_path(candle: Candle, order: PathOrder = "auto") -> list[Tick]:
    """Four ticks through the bar: open, two extremes, close (at the candle's close time)."""
    if order == "auto":
        order = "OLHC" if candle.close >= candle.open else "OHLC"
    extremes = (candle.low, candle.high) if order == "OLHC" else (candle.high, candle.low)
    prices = (candle.open, *extremes, candle.close)
    span = timeframe_ms(candle.timeframe)
    volume = candle.volume / len(prices)
    times = (
        candle.open_ms,
        candle.open_ms + span // 3,
        candle.open_ms + 2 * span // 3,
        candle.ts_ms,
    )
    return [Tick(candle.symbol, t, p, volume) for t, p in zip(times, prices, strict=True)]


class ReplayFeed:
    """Replays stored bars [start, stop) as candle (and optional tick) events."""

    def __init__(
        self,
        bars: Bars,
        clock: SimulatedClock,
        *,
        speed: float | None = None,
        path: PathOrder | None = None,
        start: int = 0,
        stop: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        stop = len(bars) if stop is None else stop
        if not (0 <= start <= stop <= len(bars)):
            raise ValueError(f"replay window [{start}, {stop}) is outside 0..{len(bars)}")
        self.bars = bars
        self.clock = clock
        self.speed = speed
        self.path = path
        self.start = start
        self.stop = stop
        self._sleep = sleep
        self._wall_clock = wall_clock

    def __len__(self) -> int:
        """Number of candles this feed will emit."""
        return self.stop - self.start

    def __iter__(self) -> Iterator[FeedEvent]:
        anchor: tuple[int, float] | None = None
        for index in range(self.start, self.stop):
            candle = Candle.from_bars(self.bars, index)
            events: list[FeedEvent] = []
            if self.path is not None:
                events.extend(intrabar_path(candle, self.path))
            events.append(candle)
            for event in events:
                if anchor is None:
                    anchor = (event.ts_ms, self._wall_clock())
                self._pace(event.ts_ms, anchor)
                self.clock.advance_to(event.ts_ms)
                yield event

    def _pace(self, ts_ms: int, anchor: tuple[int, float]) -> None:
        if self.speed is None:
            return
        start_ms, start_wall = anchor
        due = start_wall + (ts_ms - start_ms) / 1000.0 / self.speed
        delay = due - self._wall_clock()
        if delay > 0:
            self._sleep(delay)
