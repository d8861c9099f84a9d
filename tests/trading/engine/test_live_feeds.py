"""Live feeds over ccxt: REST polling and websocket streaming, against local fakes.

The polling feed talks HTTP to `FakeBinanceSpot` (real BTCUSDT bars of
2024-01-01); the streaming feed talks websocket to `FakeBinanceStream` (Binance's
kline and miniTicker events) and HTTP for its catch-up. Nothing of ours is mocked.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace

import ccxt
import ccxt.pro
import numpy as np
import pytest

from tests.fake_exchange import Fault, Market
from tests.fake_exchange_orders import FakeBinanceSpot, OrderFault, point_ccxt_at
from tests.fake_exchange_stream import FakeBinanceStream, kline_event, mini_ticker_event
from tests.market_data import load_bars
from trading.engine.clock import SimulatedClock
from trading.engine.events import DataRejectedEvent, EventBus
from trading.engine.execution.retry import RetryPolicy
from trading.engine.feeds import Candle, Feed, Tick
from trading.engine.live_feeds import (
    CcxtPollingFeed,
    CcxtStreamingFeed,
    FeedUnavailable,
    StreamSequencer,
)

H = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
FAST_RETRY = RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.05)
BARS = load_bars("BTCUSDT", "1h", start="2024-01-01", end="2024-01-02")


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake():
    with FakeBinanceSpot(now_ms=T0 + 5 * H + 30 * 60_000, markets=[Market("BTC", "USDT")],
                         prices={"BTCUSDT": "42400"}) as server:
        server.serve_candles("BTCUSDT", BARS)
        yield server


def rest_binance(fake, *, timeout_ms: int = 400) -> ccxt.binance:
    exchange = ccxt.binance({"timeout": timeout_ms, "rateLimit": 5,
                             "options": {"fetchMarkets": {"types": ["spot"]}}})
    point_ccxt_at(exchange, fake.base_url)
    return exchange


def polling(fake, clock, **kwargs) -> CcxtPollingFeed:
    options = {"symbol": "BTCUSDT", "timeframe": "1h", "clock": clock, "since_ms": T0,
               "retry": FAST_RETRY, "sleep": Sleeps(), "page_limit": 50}
    return CcxtPollingFeed(rest_binance(fake, timeout_ms=kwargs.pop("timeout_ms", 400)),
                           **{**options, **kwargs})


def bar(index: int) -> Candle:
    return Candle.from_bars(BARS, index)


def rejections(bus: EventBus) -> list[DataRejectedEvent]:
    seen: list[DataRejectedEvent] = []
    bus.subscribe(DataRejectedEvent, seen.append)
    return seen


# -- polling ----------------------------------------------------------------------------------


def test_the_polling_feed_emits_only_closed_candles_in_order_then_the_price(fake):
    # given the 05:00 bar is still forming
    clock = SimulatedClock(fake.now_ms)
    feed = polling(fake, clock)
    assert isinstance(feed, Feed)
    # when
    events = feed.poll()
    # then the five closed bars come exactly as stored, then the last price
    assert events[:-1] == [bar(i) for i in range(5)]
    assert events[-1] == Tick("BTCUSDT", fake.now_ms, 42400.0)
    # when the 05:00 bar closes
    fake.now_ms += H
    clock.advance_to(fake.now_ms)
    later = feed.poll()
    # then it comes once, with its final values (not the partial ones served earlier)
    assert [e for e in later if isinstance(e, Candle)] == [bar(5)]
    assert feed.poll()[:-1] == []


def test_the_polling_feed_rides_out_429_502_and_timeouts(fake):
    # given the klines endpoint answers 429 (Retry-After: 1), then 502, then hangs,
    # and the ticker endpoint answers 503 once
    fake.inject("klines", Fault.rate_limit(retry_after=1), Fault.server_error(502),
                Fault.timeout(1.0))
    fake.inject_order_fault("GET ticker/24hr", OrderFault.server_error(503))
    sleeps = Sleeps()
    feed = polling(fake, SimulatedClock(fake.now_ms), sleep=sleeps, timeout_ms=300)
    # when
    events = feed.poll()
    # then nothing was lost or doubled, and each failure was waited out
    assert events[:-1] == [bar(i) for i in range(5)]
    assert isinstance(events[-1], Tick)
    assert [r.status for r in fake.klines_requests()[:2]] == [429, 502]
    assert sleeps[0] == 1.0  # the Retry-After, longer than the 10 ms backoff
    assert len(sleeps) == 4 and sleeps[1] < sleeps[2]


def test_the_polling_feed_gives_up_with_feed_unavailable_and_resumes_in_place(fake):
    fake.inject("klines", *[Fault.server_error(503)] * FAST_RETRY.attempts)
    feed = polling(fake, SimulatedClock(fake.now_ms))
    with pytest.raises(FeedUnavailable, match="gave up after 4 attempts"):
        feed.poll()
    assert feed.poll()[:-1] == [bar(i) for i in range(5)]


def test_a_malformed_page_is_rejected_by_the_guard_and_healed_on_the_next_poll(fake):
    # given one answer with a non-numeric close in its middle row (the 03:00 bar)
    bus = EventBus()
    refused = rejections(bus)
    fake.inject("klines", Fault.bad_page("non_numeric"))
    feed = polling(fake, SimulatedClock(fake.now_ms), bus=bus, ticks=False)
    # when
    first = feed.poll()
    second = feed.poll()
    # then the bad bar never passed, and the next poll delivered it intact, without a gap
    assert first == [bar(0), bar(1), bar(2)]
    assert [(r.kind, r.consecutive, r.pause) for r in refused] == [("candle", 1, False)]
    assert "close nan" in refused[0].reason
    assert second == [bar(3), bar(4)]


@pytest.mark.parametrize("kind", ["wrong_shape", "not_json"])
def test_garbled_answers_never_reach_the_engine(fake, kind):
    fake.inject("klines", Fault.bad_page(kind))
    feed = polling(fake, SimulatedClock(fake.now_ms), ticks=False)
    events = feed.poll() + feed.poll()
    assert events == [bar(i) for i in range(5)]


def test_a_permanently_implausible_bar_is_skipped_after_its_attempts(fake):
    # given the exchange serves a 03:00 bar whose close is three times the price
    bad = BARS.close.copy()
    high = BARS.high.copy()
    bad[3], high[3] = bad[3] * 3, bad[3] * 3
    fake.serve_candles("BTCUSDT", replace(BARS, close=bad, high=high))
    bus = EventBus()
    refused = rejections(bus)
    feed = polling(fake, SimulatedClock(fake.now_ms), bus=bus, ticks=False, candle_attempts=3)
    # when
    polls = [feed.poll() for _ in range(3)]
    # then it is refused each time, then skipped so the following bars flow
    assert polls == [[bar(0), bar(1), bar(2)], [], [bar(4)]]
    assert [r.consecutive for r in refused] == [1, 2, 3]
    assert all("implausible close" in r.reason for r in refused)


def test_an_implausible_price_tick_is_refused(fake):
    bus = EventBus()
    refused = rejections(bus)
    feed = polling(fake, SimulatedClock(fake.now_ms), bus=bus)
    feed.poll()
    fake.prices["BTCUSDT"] = fake.prices["BTCUSDT"] * 10  # a decimal shift
    assert feed.poll() == []
    assert [r.kind for r in refused] == ["tick"]


def test_iterating_waits_for_each_close_and_stops_when_closed(fake):
    # given a clock that moves while the feed sleeps, and the exchange's clock with it
    clock = SimulatedClock(fake.now_ms)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance_by(int(seconds * 1000))
        fake.now_ms = clock.now_ms()

    feed = polling(fake, clock, sleep=sleep, ticks=False, poll_interval_s=600.0, settle_ms=2_000)
    # when
    candles = list(itertools.islice(feed, 8))
    feed.close()
    # then the catch-up came at once and each later bar right after its close
    assert candles == [bar(i) for i in range(8)]
    assert waits[0] == pytest.approx(30 * 60 + 2.0)  # 05:30 -> 06:00 close + settle
    assert waits[1:] == [3600.0, 3600.0]
    assert list(feed) == []


# -- streaming: message handling ----------------------------------------------------------------


def row(index: int, *, close: float | None = None) -> list[float]:
    values = [float(BARS.timestamps[index]), *(float(getattr(BARS, f)[index])
              for f in ("open", "high", "low", "close", "volume"))]
    if close is not None:
        values[4] = close
    return values


def test_the_sequencer_emits_a_bar_when_the_next_one_starts_with_its_last_values():
    seq = StreamSequencer("BTCUSDT", "1h")
    # given three updates of the 00:00 bar with a price in between
    assert seq.on_ohlcv([row(0, close=42300.0)]) == []
    assert seq.on_ticker({"last": 42350.0, "timestamp": T0 + 10 * 60_000}, T0) == [
        Tick("BTCUSDT", T0 + 10 * 60_000, 42350.0)
    ]
    assert seq.on_ohlcv([row(0)]) == []
    # when a price after the close arrives before the next bar's first update
    assert seq.on_ticker({"last": 42480.0, "timestamp": T0 + H + 500}, T0 + H) == []
    events = seq.on_ohlcv([row(0), row(1, close=42480.0)])
    # then the bar comes with its last values, and the held price right after it
    assert events == [bar(0), Tick("BTCUSDT", T0 + H + 500, 42480.0)]
    # and a late update of the emitted bar is ignored
    assert seq.on_ohlcv([row(0, close=1.0)]) == []


def test_the_sequencer_fills_a_gap_from_rest_before_releasing_later_prices():
    seq = StreamSequencer("BTCUSDT", "1h")
    seq.on_ohlcv([row(0)])
    seq.on_reconnect()  # the connection dropped during the 00:00 bar
    # when the stream comes back in the 02:00 bar, with a price of 02:10
    assert seq.on_ohlcv([row(2, close=42500.0)]) == []
    assert seq.on_ticker({"last": 42500.0, "timestamp": T0 + 2 * H + 600_000}, 0) == []
    assert seq.needs_backfill
    # then the bars closed meanwhile come from REST, in order, then the price
    events = seq.on_backfill([row(0), row(1), row(2, close=1.0)], now_ms=T0 + 2 * H + 600_000)
    assert events == [bar(0), bar(1), Tick("BTCUSDT", T0 + 2 * H + 600_000, 42500.0)]
    assert not seq.needs_backfill
    # and the forming 02:00 bar still closes from the stream
    assert seq.on_ohlcv([row(2), row(3, close=42000.0)]) == [bar(2)]


def test_the_sequencer_drops_prices_older_than_what_it_handed_out():
    seq = StreamSequencer("BTCUSDT", "1h")
    seq.on_ohlcv([row(0)])
    seq.on_ohlcv([row(1)])
    assert seq.on_ticker({"last": 42000.0, "timestamp": T0 + 30 * 60_000}, 0) == []


def test_only_exchanges_that_stream_candles_and_prices_get_a_streaming_feed():
    clock = SimulatedClock(T0)
    assert CcxtStreamingFeed.supported_by(ccxt.pro.binance())
    with pytest.raises(ValueError, match="use CcxtPollingFeed"):
        CcxtStreamingFeed(ccxt.binance(), symbol="BTCUSDT", timeframe="1h", clock=clock)


def test_malformed_stream_values_reach_the_guard_as_nan():
    seq = StreamSequencer("BTCUSDT", "1h")
    seq.on_ohlcv([[T0, 42283.58, None, 42261.02, "x", 1.0]])
    [candle] = seq.on_ohlcv([row(1)])
    assert np.isnan(candle.high) and np.isnan(candle.close)


# -- streaming: end to end over a websocket -----------------------------------------------------


def push_bar(stream, index: int, *, close: float | None = None) -> None:
    o, h, low, c, v = (float(getattr(BARS, f)[index]) for f in ("open", "high", "low", "close",
                                                                 "volume"))
    event = kline_event("BTCUSDT", "1h", int(BARS.timestamps[index]), H,
                        (o, h, low, c if close is None else close, v))
    stream.push("btcusdt@kline_1h", event)


@pytest.mark.timeout(60)
def test_the_streaming_feed_reconnects_and_catches_up_over_rest(fake):
    clock = SimulatedClock(T0 + 30 * 60_000)
    fake.now_ms = clock.now_ms()
    with FakeBinanceStream() as stream:
        exchange = ccxt.pro.binance({"timeout": 2000,
                                     "options": {"fetchMarkets": {"types": ["spot"]}}})
        point_ccxt_at(exchange, fake.base_url, ws_url=stream.ws_base)
        bus = EventBus()
        feed = CcxtStreamingFeed(exchange, symbol="BTCUSDT", timeframe="1h", clock=clock,
                                 retry=RetryPolicy(attempts=5, base_delay_s=0.05, max_delay_s=0.1),
                                 bus=bus)
        watchdog = threading.Timer(40, feed.close)
        watchdog.start()
        with feed:
            events = iter(feed)
            feed.start()
            stream.wait_subscribed("btcusdt@kline_1h")
            stream.wait_subscribed("btcusdt@miniticker")
            # given the 00:00 bar forming, a price, then the 01:00 bar starting
            push_bar(stream, 0, close=42300.0)
            stream.push("btcusdt@miniticker", mini_ticker_event("BTCUSDT", 42310.0, T0 + 40 * 60_000))
            first = [next(events)]
            push_bar(stream, 0)
            clock.advance_to(T0 + H + 1_000)
            push_bar(stream, 1, close=42470.0)
            first.append(next(events))
            # when the connection drops and comes back in the 03:00 bar
            stream.drop_connections()
            clock.advance_to(T0 + 3 * H + 60_000)
            fake.now_ms = clock.now_ms()
            stream.wait_subscribed("btcusdt@kline_1h", count=2)
            push_bar(stream, 3, close=42100.0)
            caught_up = list(itertools.islice(events, 2))
            clock.advance_to(T0 + 4 * H + 1_000)
            push_bar(stream, 3)
            push_bar(stream, 4, close=42000.0)
            last = next(events)
        watchdog.cancel()
    # then every bar came once, in order, the missed ones from REST
    assert first == [Tick("BTCUSDT", T0 + 40 * 60_000, 42310.0), bar(0)]
    assert caught_up == [bar(1), bar(2)]
    assert last == bar(3)
    assert feed.reconnects >= 1 and feed.backfills == 1
    assert list(feed) == []  # closed: iteration ends


@pytest.mark.timeout(30)
def test_a_silent_stream_is_reported_unavailable(fake):
    with FakeBinanceStream() as stream:
        exchange = ccxt.pro.binance({"options": {"fetchMarkets": {"types": ["spot"]}}})
        point_ccxt_at(exchange, fake.base_url, ws_url=stream.ws_base)
        with CcxtStreamingFeed(exchange, symbol="BTCUSDT", timeframe="1h",
                               clock=SimulatedClock(fake.now_ms), stall_after_s=0.5) as feed:
            # given a connection that subscribed and then hears nothing
            feed.start()
            stream.wait_subscribed("btcusdt@kline_1h")
            # then
            with pytest.raises(FeedUnavailable, match="silent for 0.5s"):
                next(iter(feed))


@pytest.mark.timeout(30)
def test_a_stream_that_cannot_connect_gives_up_with_feed_unavailable(fake):
    # given a websocket address where nothing listens any more
    with FakeBinanceStream() as stream:
        address = stream.ws_base
    exchange = ccxt.pro.binance({"options": {"fetchMarkets": {"types": ["spot"]}}})
    point_ccxt_at(exchange, fake.base_url, ws_url=address)
    retry = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.02)
    feed = CcxtStreamingFeed(exchange, symbol="BTCUSDT", timeframe="1h",
                             clock=SimulatedClock(fake.now_ms), retry=retry)
    # then
    with feed, pytest.raises(FeedUnavailable, match="gave up after 3 attempts") as raised:
        next(iter(feed))
    assert isinstance(raised.value.__cause__, ccxt.NetworkError)
    assert feed.reconnects >= 2  # the first watcher to give up had retried twice


def test_candles_accepted_before_a_failed_price_request_come_with_the_next_poll(fake):
    # given the price endpoint is down for the whole retry budget
    fake.inject_order_fault("GET ticker/24hr", *[OrderFault.server_error(503)] * 4)
    feed = polling(fake, SimulatedClock(fake.now_ms))
    # when
    with pytest.raises(FeedUnavailable):
        feed.poll()
    # then nothing accepted was lost
    assert feed.poll()[:-1] == [bar(i) for i in range(5)]
