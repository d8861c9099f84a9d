"""publish_now with Redis: sends from any thread (or from inside an event loop) arrive, in order,
over one long-lived publisher loop per process."""

from __future__ import annotations

import asyncio
import random
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from organism.publisher_loop import PublisherLoop
from organism.realtime import group_for_trading, publish_now


async def _subscribed(group: str):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    await asyncio.sleep(0.15)  # the pub/sub reader's first nap (see test_realtime_price_ticks)
    return layer, channel


async def _receive(layer, channel, count: int) -> list[dict]:
    return [await asyncio.wait_for(layer.receive(channel), 3) for _ in range(count)]


def test_events_published_from_several_threads_all_arrive_in_each_threads_order():
    # given
    group = group_for_trading(random.randint(10**8, 10**9))

    def publish(thread_no: int) -> None:
        for seq in range(25):
            publish_now(group, "trading.update", {"session_id": thread_no, "kind": str(seq)})

    async def scenario():
        layer, channel = await _subscribed(group)
        # when three plain threads publish (as Celery worker threads do)
        threads = [threading.Thread(target=publish, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        messages = await _receive(layer, channel, 75)
        for thread in threads:
            thread.join()
        await layer.group_discard(group, channel)
        return messages

    messages = async_to_sync(scenario)()
    # then
    for thread_no in range(3):
        kinds = [m["payload"]["kind"] for m in messages if m["payload"]["session_id"] == thread_no]
        assert kinds == [str(seq) for seq in range(25)]


def test_an_event_published_from_inside_an_event_loop_is_delivered():
    # given a coroutine (not the embedded server's bound loop) that calls the sync API
    group = group_for_trading(random.randint(10**8, 10**9))

    async def scenario():
        layer, channel = await _subscribed(group)
        # when
        publish_now(group, "trading.update", {"session_id": 5, "kind": "from-async"})
        (message,) = await _receive(layer, channel, 1)
        await layer.group_discard(group, channel)
        return message

    message = async_to_sync(scenario)()
    # then
    assert message["payload"] == {"session_id": 5, "kind": "from-async"}
    assert isinstance(message["sent_at"], float)


def test_the_publisher_loop_runs_every_send_on_one_long_lived_loop():
    # given
    publisher = PublisherLoop(name="test-publisher")

    async def current_loop():
        return asyncio.get_running_loop()

    # when
    first = publisher.run(current_loop(), timeout=2)
    second = publisher.run(current_loop(), timeout=2)
    publisher.stop()
    third = publisher.run(current_loop(), timeout=2)
    publisher.stop()
    # then the loop is reused until stopped, and a stopped publisher starts a fresh one
    assert first is second and first.is_closed()
    assert third is not first
