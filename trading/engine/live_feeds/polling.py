"""A live feed that polls an exchange's REST API through ccxt.

Guarantees:
- Emits each closed candle once, in open-time order, from `since_ms` (default:
  the bar in progress when the feed starts). A bar counts as closed when the
  clock has passed its close time (plus `settle_ms`) or the exchange already
  returned a later bar; the bar still forming is never emitted. After an
  outage, missed bars are caught up page by page.
- Between candles, each poll adds the last traded price as a `Tick` (with
  `ticks=True`), never older than the last event emitted.
- Requests are retried with the data backfill's resilience: timeouts, 429
  (honouring Retry-After), 5xx, dropped connections and garbled answers back
  off exponentially with jitter; once the budget is spent `poll` raises
  `FeedUnavailable` (a TemporaryExchangeError) and the feed keeps its place:
  candles accepted before the failure are handed out by the next poll, so
  iterating again resumes where it stopped, losing and repeating nothing.
- Every event passes the `FeedScreen` (the `FeedGuard`'s checks). A rejected
  candle ends that poll's candles and is fetched again on the next poll (a
  corrupted answer heals without a gap); if it is still refused after
  `candle_attempts` polls it is skipped, logged as a gap, so one permanently
  bad bar cannot stall the session.
- Time is read from the injected clock and spent only through the injected
  `sleep`; `close()` ends the iteration at the next wait.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ccxt

from trading.engine.clock import Clock
from trading.engine.events import EventBus
from trading.engine.execution.ccxt_markets import MarketDirectory
from trading.engine.execution.exchange_errors import TemporaryExchangeError
from trading.engine.execution.redaction import REDACTOR
from trading.engine.execution.retry import Retrier, RetryPolicy, retry_after_seconds
from trading.engine.feed_guard import FeedGuard
from trading.engine.feeds import Candle, FeedEvent
from trading.engine.live_feeds.rows import candle_from_row, open_time, tick_from_ticker
from trading.engine.live_feeds.screening import FeedScreen
from trading.engine.market import timeframe_ms

log = logging.getLogger(__name__)
MAX_PAGES_PER_POLL = 20


class FeedUnavailable(TemporaryExchangeError):
    """The exchange could not be reached within the retry budget."""


class CcxtPollingFeed:
    def __init__(
        self,
        exchange: Any,
        *,
        symbol: str,
        timeframe: str,
        clock: Clock,
        since_ms: int | None = None,
        ticks: bool = True,
        poll_interval_s: float = 30.0,
        min_wait_s: float = 1.0,
        settle_ms: int = 0,
        page_limit: int = 500,
        candle_attempts: int = 3,
        retry: RetryPolicy | None = None,
        guard: FeedGuard | None = None,
        bus: EventBus | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.timeframe = timeframe
        self.clock = clock
        self.span_ms = timeframe_ms(timeframe)
        self.ticks = ticks
        self.poll_interval_s = poll_interval_s
        self.min_wait_s = min_wait_s
        self.settle_ms = settle_ms
        self.page_limit = page_limit
        self.candle_attempts = candle_attempts
        self.screen = FeedScreen(clock, guard, bus)
        self._stopped = threading.Event()
        self._sleep: Callable[[float], object] = sleep if sleep is not None else self._stopped.wait
        exchange.enableRateLimit = True
        exchange.enableLastJsonResponse = True  # to tell a garbled answer from an empty one
        REDACTOR.install(log, exchange.logger)
        self.retrier = Retrier(retry or RetryPolicy(), sleep=self._pause, rng=rng,
                               retry_after=lambda: retry_after_seconds(exchange))
        self.markets = MarketDirectory(exchange, self.retrier)
        now = clock.now_ms()
        self.next_open_ms = since_ms if since_ms is not None else now - now % self.span_ms
        self._refusals: dict[int, int] = {}  # open time -> polls that refused it
        self._pending: list[FeedEvent] = []  # accepted, not yet handed out (a poll failed)

    def __iter__(self) -> Iterator[FeedEvent]:
        while not self._stopped.is_set():
            yield from self.poll()
            if self._stopped.is_set():
                return
            self._pause(self.wait_s())

    def close(self) -> None:
        self._stopped.set()

    def _pause(self, seconds: float) -> None:
        self._sleep(seconds)

    def poll(self) -> list[FeedEvent]:
        """One round: the candles closed since the last poll, then the current price."""
        try:
            self._closed_candles(self._pending)
            if self.ticks:
                tick = tick_from_ticker(self.symbol, self._fetch("fetch_ticker"), self.clock.now_ms())
                latest = self.screen.last_ts_ms
                # a price stamped before the last candle adds nothing: skip it, it is not bad data
                if (latest is None or tick.ts_ms >= latest) and self.screen.accept(tick):
                    self._pending.append(tick)
        except TemporaryExchangeError as exc:
            # candles accepted before the failure stay pending: the next poll delivers them
            raise FeedUnavailable(f"{self.symbol} {self.timeframe} feed: {exc}") from exc
        events, self._pending = self._pending, []
        return events

    def wait_s(self) -> float:
        """Seconds until the next poll: the poll interval, or sooner when a bar closes."""
        due_ms = self.next_open_ms + self.span_ms + self.settle_ms - self.clock.now_ms()
        wait = min(self.poll_interval_s, due_ms / 1000) if self.ticks else due_ms / 1000
        return max(self.min_wait_s, wait)

    # -- candles -----------------------------------------------------------------------------

    def _closed_candles(self, emitted: list[FeedEvent]) -> None:
        for _ in range(MAX_PAGES_PER_POLL):
            if self.next_open_ms + self.span_ms > self.clock.now_ms():
                break  # nothing can have closed yet
            rows = self._fetch("fetch_ohlcv", self.timeframe, self.next_open_ms, self.page_limit)
            before = self.next_open_ms
            stalled = self._emit_closed(rows, emitted)
            if stalled or len(rows) < self.page_limit or self.next_open_ms == before:
                break

    def _emit_closed(self, rows: Sequence[Sequence[Any]], out: list[FeedEvent]) -> bool:
        """Screen and collect closed rows in order; True when a refused bar stops the poll."""
        ordered = sorted((r for r in rows if open_time(r) >= self.next_open_ms), key=open_time)
        now = self.clock.now_ms()
        for index, row in enumerate(ordered):
            candle = candle_from_row(self.symbol, self.timeframe, row)
            later_exists = index + 1 < len(ordered)
            if not later_exists and candle.open_ms + self.span_ms + self.settle_ms > now:
                break  # still forming
            if self.screen.accept(candle):
                self._advance_past(candle)
                out.append(candle)
            elif self._give_up_on(candle):
                self._advance_past(candle)
            else:
                return True
        return False

    def _give_up_on(self, candle: Candle) -> bool:
        refused = self._refusals.get(candle.open_ms, 0) + 1
        self._refusals[candle.open_ms] = refused
        if refused < self.candle_attempts:
            return False
        log.error("%s %s bar %d refused %d times: skipped, leaving a gap", self.symbol,
                  self.timeframe, candle.open_ms, refused)
        return True

    def _advance_past(self, candle: Candle) -> None:
        self._refusals.pop(candle.open_ms, None)
        self.next_open_ms = max(self.next_open_ms, candle.open_ms + self.span_ms)

    # -- requests ----------------------------------------------------------------------------

    def _fetch(self, method: str, *args: Any) -> Any:
        symbol = self.markets.ccxt_symbol(self.symbol)

        def once() -> Any:
            result = getattr(self.exchange, method)(symbol, *args)
            raw = self.exchange.last_json_response
            if method == "fetch_ohlcv" and not isinstance(raw, list):
                raise ccxt.BadResponse(f"{self.exchange.id} candles: not a list of rows")
            return result

        return self.retrier.call(f"{self.exchange.id} {method} {symbol}", once)
