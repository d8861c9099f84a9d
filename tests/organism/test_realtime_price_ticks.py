"""publish_price: price ticks coalesced at the publisher, through the real Redis channel layer.

Each test listens on its own group (a random instrument id): other test runs
may publish on the same Redis.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from organism import realtime
from organism.realtime import group_for_instrument, publish_price, validate_event

pytestmark = pytest.mark.django_db
INTERVAL_MS = 100


@pytest.fixture(autouse=True)
def _tick_interval(settings):
    settings.ORGANISM_TICK_INTERVAL_MS = INTERVAL_MS


def _tick(instrument_id: int, price: float, **extra) -> dict:
    return {"instrument_id": instrument_id, "symbol": "BTC/USDT", "price": price,
            "ts": 1_767_225_600_000, **extra}


def _listen(group: str, publish, *, quiet: float) -> tuple[list[tuple[float, dict]], float]:
    """Run `publish` (sync) while listening on `group`; collect messages until `quiet`
    seconds pass without one. Returns [(receive time, message)], publish end time."""

    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        # channels-redis's pub/sub reader naps 0.1 s when it started before its first
        # subscription: let it wake so the measured times are the publisher's.
        await asyncio.sleep(0.15)
        try:
            await sync_to_async(publish)()
            published_at = time.time()
            received = []
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), quiet)
                except TimeoutError:
                    return received, published_at
                received.append((time.time(), message))
        finally:
            await layer.group_discard(group, channel)

    return async_to_sync(scenario)()


def test_a_thousand_rapid_ticks_arrive_as_a_few_messages_ending_on_the_last_price(
    django_capture_on_commit_callbacks,
):
    # given
    instrument_id = random.randint(10**8, 10**9)
    group = group_for_instrument(instrument_id)
    prices = [30_000.0 + i * 0.5 for i in range(1000)]
    burst: dict[str, float] = {}

    def publish_burst():
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            for price in prices:
                publish_price(group, _tick(instrument_id, price))
        burst["seconds"] = time.monotonic() - started

    # when
    received, published_at = _listen(group, publish_burst, quiet=3 * INTERVAL_MS / 1000)
    # then a bounded number of messages, increasing prices, the last one the final price
    messages = [m for _, m in received]
    assert 1 <= len(messages) <= 2 + burst["seconds"] * 1000 / INTERVAL_MS
    assert all(m["event"] == "price.tick" for m in messages)
    sent_prices = [m["payload"]["price"] for m in messages]
    assert sent_prices == sorted(sent_prices) and sent_prices[-1] == prices[-1]
    gaps = [b["sent_at"] - a["sent_at"] for a, b in zip(messages, messages[1:], strict=False)]
    assert all(gap >= INTERVAL_MS / 1000 - 0.005 for gap in gaps), gaps
    # and the final price was not held back longer than one interval (plus transport)
    assert received[-1][0] - published_at < INTERVAL_MS / 1000 + 0.1


def test_a_lone_tick_is_delivered_within_the_interval(django_capture_on_commit_callbacks):
    # given a group that has been quiet
    instrument_id = random.randint(10**8, 10**9)
    group = group_for_instrument(instrument_id)
    started: dict[str, float] = {}

    def publish_one():
        started["at"] = time.time()
        with django_capture_on_commit_callbacks(execute=True):
            publish_price(group, _tick(instrument_id, 41_234.5))

    # when
    received, _ = _listen(group, publish_one, quiet=2 * INTERVAL_MS / 1000)
    # then
    (arrived_at, message), = received
    assert message["payload"]["price"] == 41_234.5
    validate_event("price.tick", message["payload"])
    assert arrived_at - started["at"] < INTERVAL_MS / 1000


def test_groups_are_coalesced_separately(django_capture_on_commit_callbacks):
    # given two instruments ticking at once
    first, second = random.sample(range(10**8, 10**9), 2)

    def publish_both():
        with django_capture_on_commit_callbacks(execute=True):
            for i in range(200):
                publish_price(group_for_instrument(first), _tick(first, 100.0 + i))
                publish_price(group_for_instrument(second), _tick(second, 900.0 - i))

    # when
    received, _ = _listen(group_for_instrument(second), publish_both, quiet=0.3)
    # then the second group ends on its own final price, untouched by the first
    assert [m["payload"]["instrument_id"] for _, m in received] == [second] * len(received)
    assert received[-1][1]["payload"]["price"] == 701.0


def test_a_tick_in_a_rolled_back_transaction_is_never_published(
    django_capture_on_commit_callbacks,
):
    # given
    instrument_id = random.randint(10**8, 10**9)
    group = group_for_instrument(instrument_id)

    def roll_back():
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            publish_price(group, _tick(instrument_id, 1.5))
            raise RuntimeError("rollback")

    # when
    received, _ = _listen(group, roll_back, quiet=0.4)
    # then
    assert received == []


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"symbol": "BTC/USDT", "price": 1.0, "ts": 1}, "needs one of session_id, instrument_id"),
        ({"session_id": "3", "symbol": "BTC/USDT", "price": 1.0, "ts": 1}, "'session_id' must"),
        ({"session_id": 3, "symbol": "BTC/USDT", "price": 1, "ts": 1}, "'price' must"),
        ({"instrument_id": 3, "symbol": "BTC/USDT", "price": 1.0}, "missing 'ts'"),
    ],
)
def test_it_refuses_a_malformed_tick(payload, error):
    with pytest.raises(ValueError, match=error):
        publish_price("trading.3", payload)


def test_a_session_tick_is_valid_without_an_instrument():
    validate_event("price.tick", {"session_id": 3, "symbol": "ETH/USDT", "price": 2.5, "ts": 1})


def test_ticks_reach_the_embedded_servers_in_memory_layer(
    settings, django_capture_on_commit_callbacks
):
    # given embedded mode: an in-memory layer owned by the web server's loop on another thread
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    loop = asyncio.new_event_loop()
    server = threading.Thread(target=loop.run_forever, name="embedded-web", daemon=True)
    server.start()
    realtime.bind_event_loop(loop)
    layer = get_channel_layer()
    channel = asyncio.run_coroutine_threadsafe(layer.new_channel(), loop).result(2)
    asyncio.run_coroutine_threadsafe(layer.group_add("markets", channel), loop).result(2)

    async def drain() -> list[dict]:
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(layer.receive(channel), 0.3))
            except TimeoutError:
                return received

    try:
        # when a burst of ticks is published from this (worker) thread
        with django_capture_on_commit_callbacks(execute=True):
            for i in range(300):
                publish_price("markets", _tick(7, 100.0 + i))
        messages = asyncio.run_coroutine_threadsafe(drain(), loop).result(5)
    finally:
        realtime.bind_event_loop(None)
        loop.call_soon_threadsafe(loop.stop)
        server.join(2)
    # then a few messages, the last one with the final price
    assert 1 <= len(messages) <= 3
    assert messages[-1]["payload"]["price"] == 399.0


def test_each_symbol_of_a_group_ends_on_its_own_latest_price(django_capture_on_commit_callbacks):
    # given a trading session's group with two symbols ticking at once
    session_id = random.randint(10**8, 10**9)
    group = f"trading.{session_id}"

    def publish_both():
        with django_capture_on_commit_callbacks(execute=True):
            for i in range(200):
                for symbol, base in (("BTC/USDT", 60_000.0), ("ETH/USDT", 3_000.0)):
                    publish_price(group, {"session_id": session_id, "symbol": symbol,
                                          "price": base + i, "ts": 1_767_225_600_000 + i})

    # when
    received, _ = _listen(group, publish_both, quiet=0.3)
    # then neither symbol's last price was swallowed by the other's
    last = {m["payload"]["symbol"]: m["payload"]["price"] for _, m in received}
    assert last == {"BTC/USDT": 60_199.0, "ETH/USDT": 3_199.0}
    assert len(received) <= 4
