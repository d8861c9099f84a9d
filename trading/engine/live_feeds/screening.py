"""The gate every live feed event passes before the engine sees it.

Guarantees: an event leaves a `FeedScreen` only if the `FeedGuard` accepts it
and it is not older than the last event let through (the `Feed` contract: time
never goes backwards). A refused event is logged and, with a bus, published as
a `DataRejectedEvent` (with `pause` once the guard says the feed has stayed
bad), so the session can alert and pause; it is never passed on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from trading.engine.clock import Clock
from trading.engine.events import DataRejectedEvent, EventBus
from trading.engine.feed_guard import DataVerdict, FeedGuard
from trading.engine.feeds import Candle, FeedEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejection:
    event: FeedEvent
    reason: str
    pause: bool


class FeedScreen:
    def __init__(self, clock: Clock, guard: FeedGuard | None = None,
                 bus: EventBus | None = None) -> None:
        self.clock = clock
        self.guard = guard or FeedGuard(clock)
        self.bus = bus
        self.last_ts_ms: int | None = None
        self.rejections: list[Rejection] = []  # most recent last; bounded
        self.max_kept = 1000

    def accept(self, event: FeedEvent) -> bool:
        if self.last_ts_ms is not None and event.ts_ms < self.last_ts_ms:
            verdict = DataVerdict(False, f"time {event.ts_ms} is before {self.last_ts_ms}")
        elif isinstance(event, Candle):
            verdict = self.guard.check_candle(event)
        else:
            verdict = self.guard.check_tick(event)
        if verdict.accepted:
            self.last_ts_ms = event.ts_ms
            return True
        self._refused(event, verdict)
        return False

    def _refused(self, event: FeedEvent, verdict: DataVerdict) -> None:
        kind = "candle" if isinstance(event, Candle) else "tick"
        log.warning("%s %s at %d rejected: %s%s", event.symbol, kind, event.ts_ms, verdict.reason,
                    " (feed stays bad: pause)" if verdict.pause else "")
        self.rejections.append(Rejection(event, verdict.reason, verdict.pause))
        del self.rejections[: -self.max_kept]
        if self.bus is not None:
            self.bus.publish(DataRejectedEvent(
                ts_ms=self.clock.now_ms(), symbol=event.symbol, kind=kind, reason=verdict.reason,
                consecutive=verdict.consecutive_rejects, pause=verdict.pause,
            ))
