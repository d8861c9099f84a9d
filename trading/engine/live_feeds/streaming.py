"""A live feed over an exchange's websocket streams, through ccxt.pro.

ccxt.pro ships inside ccxt (`import ccxt.pro`) and is asynchronous; the engine's
`Feed` is a plain iterator. `CcxtStreamingFeed` runs the watchers on an event
loop in a background thread and hands finished events to the iterating thread
through a queue.

Guarantees:
- `StreamSequencer` (pure, no I/O) turns the stream's updates into the `Feed`
  contract: a candle is emitted once, when the exchange starts the next bar
  (kline streams repeat the forming bar; ccxt drops Binance's "closed" flag),
  with the bar's last values; and a tick is emitted only once every candle that
  closes at or before it has been emitted, so ticks and candles come out in
  time order even though they arrive on separate streams. Ticks wait (at most
  `max_held` of them) while a missed bar is being fetched.
- A dropped connection or any transient error is retried with backoff and
  jitter; after a reconnect, and whenever the stream skips a bar, the missed
  bars are fetched over REST and emitted in order before newer events. Once the
  retry budget is spent the iterator raises `FeedUnavailable`, and so it does
  when a connection stays silent longer than `stall_after_s` (a stalled socket
  looks alive), so the session can fall back to `CcxtPollingFeed`.
- Every event passes the `FeedScreen` (the `FeedGuard`) in the iterating thread.
- `close()` (or leaving a `with` block) closes the exchange's connections,
  stops the thread and ends the iteration.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import queue
import random
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

from trading.engine.clock import Clock
from trading.engine.events import EventBus
from trading.engine.execution.exchange_errors import describe, is_transient
from trading.engine.execution.redaction import REDACTOR
from trading.engine.execution.retry import RetryPolicy
from trading.engine.feed_guard import FeedGuard
from trading.engine.feeds import Candle, FeedEvent, Tick
from trading.engine.live_feeds.polling import FeedUnavailable
from trading.engine.live_feeds.rows import candle_from_row, open_time, tick_from_ticker
from trading.engine.live_feeds.screening import FeedScreen
from trading.engine.market import timeframe_ms

log = logging.getLogger(__name__)
_END = object()


class StreamSequencer:
    """Closed candles and ordered ticks from kline and ticker stream updates."""

    def __init__(self, symbol: str, timeframe: str, *, next_open_ms: int | None = None,
                 max_held: int = 10_000) -> None:
        self.symbol = symbol
        self.timeframe = timeframe
        self.span_ms = timeframe_ms(timeframe)
        self.next_open_ms = next_open_ms  # the oldest bar not emitted yet
        self.forming: Sequence[Any] | None = None  # latest values of the newest bar seen
        self.max_held = max_held
        self._held: list[Tick] = []  # ticks waiting for a candle, oldest first
        self._last_ts: int | None = None  # time of the last event handed out

    @property
    def needs_backfill(self) -> bool:
        """A bar older than the forming one was never seen closing on the stream."""
        return (self.forming is not None and self.next_open_ms is not None
                and self.next_open_ms < open_time(self.forming))

    def on_reconnect(self) -> None:
        """Forget the forming bar: its last values may predate the outage. Kline streams
        resend the whole bar so far, and REST supplies the bars that closed meanwhile."""
        self.forming = None

    def on_ohlcv(self, rows: Sequence[Sequence[Any]]) -> list[FeedEvent]:
        out: list[FeedEvent] = []
        for row in sorted(rows, key=open_time):
            opened = open_time(row)
            if self.next_open_ms is None:
                self.next_open_ms = opened
            if opened < self.next_open_ms:
                continue  # a late update of a bar already emitted
            forming = self.forming
            if forming is not None and opened > open_time(forming) == self.next_open_ms:
                self._emit_bar(forming, out)  # the next bar started: this one is closed
            if self.forming is None or opened >= open_time(self.forming):
                self.forming = row
        return out + self._release(self._tick_limit())

    def on_backfill(self, rows: Sequence[Sequence[Any]], now_ms: int) -> list[FeedEvent]:
        """Closed bars fetched over REST after a gap; a bar the exchange lacks is skipped."""
        out: list[FeedEvent] = []
        for row in sorted(rows, key=open_time):
            opened = open_time(row)
            if self.next_open_ms is None or opened < self.next_open_ms:
                continue
            if opened + self.span_ms > now_ms:
                break  # still forming: the stream will close it
            if opened > self.next_open_ms:
                log.warning("%s %s: the exchange has no bar at %d; gap", self.symbol,
                            self.timeframe, self.next_open_ms)
            self._emit_bar(row, out)
        if self.forming is not None and open_time(self.forming) < (self.next_open_ms or 0):
            self.forming = None  # emitted from REST, with its final values
        return out + self._release(self._tick_limit())

    def on_ticker(self, ticker: Mapping[str, Any], now_ms: int) -> list[FeedEvent]:
        tick = tick_from_ticker(self.symbol, ticker, now_ms)
        if self._last_ts is not None and tick.ts_ms < self._last_ts:
            return []  # older than an event already handed out
        bisect.insort(self._held, tick, key=lambda t: t.ts_ms)
        if len(self._held) > self.max_held:
            dropped = self._held.pop(0)
            log.warning("%s: tick at %d dropped while waiting for a bar", self.symbol, dropped.ts_ms)
        return self._release(self._tick_limit())

    def _tick_limit(self) -> int | None:
        """Ticks at or after this time must wait: the next candle closes then."""
        return None if self.next_open_ms is None else self.next_open_ms + self.span_ms

    def _emit_bar(self, row: Sequence[Any], out: list[FeedEvent]) -> None:
        candle = candle_from_row(self.symbol, self.timeframe, row)
        out.extend(self._release(candle.ts_ms))
        out.append(candle)
        self._last_ts = max(self._last_ts or candle.ts_ms, candle.ts_ms)
        self.next_open_ms = candle.open_ms + self.span_ms

    def _release(self, limit: int | None) -> list[FeedEvent]:
        """Held ticks strictly before `limit` (all of them when None), oldest first."""
        cut = len(self._held) if limit is None else bisect.bisect_left(
            self._held, limit, key=lambda t: t.ts_ms)
        ready, self._held = self._held[:cut], self._held[cut:]
        if ready:
            self._last_ts = ready[-1].ts_ms
        return list(ready)


class CcxtStreamingFeed:
    def __init__(
        self,
        exchange: Any,
        *,
        symbol: str,
        timeframe: str,
        clock: Clock,
        ticks: bool = True,
        since_ms: int | None = None,
        retry: RetryPolicy | None = None,
        guard: FeedGuard | None = None,
        bus: EventBus | None = None,
        stall_after_s: float | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not self.supported_by(exchange):
            raise ValueError(f"{getattr(exchange, 'id', exchange)} cannot stream candles and "
                             "prices (need a ccxt.pro exchange with watchOHLCV and watchTicker); "
                             "use CcxtPollingFeed")
        self.exchange = exchange  # a ccxt.pro exchange (asynchronous)
        self.symbol = symbol
        self.timeframe = timeframe
        self.clock = clock
        self.ticks = ticks
        self.retry = retry or RetryPolicy()
        self.rng = rng
        self.stall_after_s = stall_after_s
        self.screen = FeedScreen(clock, guard, bus)
        self.sequencer = StreamSequencer(symbol, timeframe, next_open_ms=since_ms)
        self.reconnects = 0  # stream failures recovered from (a health metric)
        self.backfills = 0  # REST fetches of bars the stream missed
        self._ccxt_symbol: str | None = None
        self._queue: queue.Queue[object] = queue.Queue()
        self._stopped = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closing: asyncio.Task[None] | None = None
        REDACTOR.install(log, exchange.logger)

    @staticmethod
    def supported_by(exchange: Any) -> bool:
        """True for a ccxt.pro exchange that streams candles and tickers."""
        has = getattr(exchange, "has", {}) or {}
        return bool(has.get("watchOHLCV")) and bool(has.get("watchTicker"))

    def __enter__(self) -> CcxtStreamingFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[FeedEvent]:
        self.start()
        while True:
            try:
                item = self._queue.get(timeout=self.stall_after_s)
            except queue.Empty:
                raise FeedUnavailable(f"{self.symbol} stream: connected but silent for "
                                      f"{self.stall_after_s}s") from None
            if item is _END:
                self._queue.put(_END)  # later iterations end too
                return
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, Candle | Tick) and self.screen.accept(item):
                yield item

    def close(self, timeout_s: float = 5.0) -> None:
        self._stopped.set()
        loop, thread = self._loop, self._thread
        if loop is not None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self.exchange.close(), loop)
            try:
                future.result(timeout_s)
            except Exception as exc:  # noqa: BLE001 - closing must not raise
                log.warning("closing %s streams: %s", self.symbol, exc)
        if thread is not None:
            thread.join(timeout_s)
        self._queue.put(_END)

    def start(self) -> None:
        """Connect now (iterating starts the feed too); later calls do nothing."""
        if self._thread is not None or self._stopped.is_set():
            return
        self._thread = threading.Thread(target=self._run, name=f"feed-{self.symbol}", daemon=True)
        self._thread.start()

    # -- the event loop thread ---------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._pump())
        except BaseException as exc:  # noqa: BLE001 - handed to the iterating thread
            if not self._stopped.is_set():
                self._queue.put(exc)
        finally:
            loop.run_until_complete(self._close_quietly())
            loop.close()
            self._queue.put(_END)

    async def _close_quietly(self) -> None:
        try:
            await self.exchange.close()
        except Exception:  # noqa: BLE001 - already closed or never opened
            return

    async def _pump(self) -> None:
        await self._keep_watching(self._resolve_symbol, until_success=True)
        if self._ccxt_symbol is None:
            return
        watchers = [self._keep_watching(self._candles, on_reconnect=self.sequencer.on_reconnect)]
        if self.ticks:
            watchers.append(self._keep_watching(self._ticker))
        await asyncio.gather(*watchers)

    async def _resolve_symbol(self) -> None:
        markets = await self.exchange.load_markets()
        if self.symbol in markets:
            self._ccxt_symbol = self.symbol
        else:
            self._ccxt_symbol = str(self.exchange.markets_by_id[self.symbol][0]["symbol"])

    async def _candles(self) -> None:
        rows = await self.exchange.watch_ohlcv(self._ccxt_symbol, self.timeframe)
        self._hand_over(self.sequencer.on_ohlcv(rows))
        if self.sequencer.needs_backfill:
            since = self.sequencer.next_open_ms
            rows = await self.exchange.fetch_ohlcv(self._ccxt_symbol, self.timeframe,
                                                   since=since, limit=1000)
            self.backfills += 1
            self._hand_over(self.sequencer.on_backfill(rows, self.clock.now_ms()))

    async def _ticker(self) -> None:
        ticker = await self.exchange.watch_ticker(self._ccxt_symbol)
        self._hand_over(self.sequencer.on_ticker(ticker, self.clock.now_ms()))

    async def _keep_watching(self, once: Callable[[], Awaitable[None]], *,
                             until_success: bool = False,
                             on_reconnect: Callable[[], None] | None = None) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                await once()
                if until_success:
                    return
                failures = 0
            except asyncio.CancelledError:
                if self._stopped.is_set():
                    return  # close() cancelled the pending watch
                raise
            except Exception as exc:  # noqa: BLE001 - classified below
                if self._stopped.is_set():
                    return
                failures += 1
                if not is_transient(exc) or failures >= self.retry.attempts:
                    self._fail(exc, failures)
                    return
                wait = self.retry.delay(failures, unit=self.rng())
                self.reconnects += 1
                log.warning("%s stream failed (%s); reconnecting in %.2fs", self.symbol,
                            REDACTOR.redact(describe(exc)), wait)
                if on_reconnect is not None:
                    on_reconnect()
                await asyncio.sleep(wait)

    def _fail(self, exc: Exception, failures: int) -> None:
        """Hand the failure to the iterating thread and stop every watcher (runs in the loop)."""
        REDACTOR.scrub(exc)
        error: BaseException = exc
        if is_transient(exc):
            reason = REDACTOR.redact(describe(exc))
            error = FeedUnavailable(f"{self.symbol} stream: gave up after {failures} attempts: "
                                    f"{reason}")
            error.__cause__ = exc
        self._stopped.set()
        self._queue.put(error)
        # closing the exchange cancels the other watcher's pending watch
        self._closing = asyncio.get_running_loop().create_task(self._close_quietly())

    def _hand_over(self, events: list[FeedEvent]) -> None:
        for event in events:
            self._queue.put(event)
