"""Replay of several symbols' stored bars as one time-ordered feed.

Guarantees: events of all symbols come in non-decreasing time order (ties in
the order the bars were given, each symbol's own order kept: its intra-bar
ticks, then its candle), equal to the events `ReplayFeed` yields for each
symbol (the same `Candle`s, the same `intrabar_path` ticks), built from plain
Python lists rather than numpy scalars; the injected `SimulatedClock` is moved
to each event's time just before it is yielded.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence

from trading.engine.clock import SimulatedClock
from trading.engine.feeds import Candle, FeedEvent, PathOrder, intrabar_path
from trading.engine.market import Bars


class MultiReplayFeed:
    def __init__(
        self,
        bars: Sequence[Bars],
        clock: SimulatedClock,
        *,
        path: PathOrder | None = None,
        start: int = 0,
    ) -> None:
        if not bars:
            raise ValueError("a replay needs bars for at least one symbol")
        if len({b.symbol for b in bars}) != len(bars):
            raise ValueError("each symbol can be replayed once")
        self.bars = list(bars)
        self.clock = clock
        self.path = path
        self.start = start

    def __len__(self) -> int:
        return sum(max(0, len(b) - self.start) for b in self.bars)

    def _events(self, bars: Bars) -> Iterator[FeedEvent]:
        window = bars.slice(self.start, len(bars))
        columns = zip(
            window.timestamps.tolist(), window.open.tolist(), window.high.tolist(),
            window.low.tolist(), window.close.tolist(), window.volume.tolist(), strict=True,
        )
        symbol, timeframe, path = bars.symbol, bars.timeframe, self.path
        for open_ms, open_, high, low, close, volume in columns:
            candle = Candle(symbol, timeframe, open_ms, open_, high, low, close, volume)
            if path is not None:
                yield from intrabar_path(candle, path)
            yield candle

    def __iter__(self) -> Iterator[FeedEvent]:
        streams = [self._events(b) for b in self.bars]
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=_time)
        for event in merged:
            self.clock.advance_to(event.ts_ms)
            yield event


def _time(event: FeedEvent) -> int:
    return event.ts_ms
