"""Events are validated against their schema and sent only after commit."""

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from organism.realtime import publish_after_commit, validate_event

CANDLE = {
    "instrument_id": 1, "symbol": "BTC/USDT", "timeframe": "1h", "open_time": 0,
    "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10.0,
}


def test_it_rejects_an_event_missing_a_field():
    with pytest.raises(ValueError, match="missing 'close'"):
        validate_event("candle.stored", {k: v for k, v in CANDLE.items() if k != "close"})


def test_it_rejects_an_unknown_event_type():
    with pytest.raises(ValueError, match="unknown event type"):
        validate_event("nope", {})


def _commit_one_and_roll_back_one():
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_after_commit("markets", "candle.stored", {**CANDLE, "close": 111.0})
        raise RuntimeError("rollback")
    with transaction.atomic():
        publish_after_commit("markets", "candle.stored", {**CANDLE, "close": 222.0})


@pytest.mark.django_db(transaction=True)
def test_it_publishes_only_after_commit_and_never_on_rollback():
    async def scenario():
        # given a channel listening to the markets group
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("markets", channel)
        # when one transaction that published rolls back and another commits
        await sync_to_async(_commit_one_and_roll_back_one)()
        # then only the committed event arrives
        message = await asyncio.wait_for(layer.receive(channel), 3)
        await layer.group_discard("markets", channel)
        return message

    message = async_to_sync(scenario)()
    assert message["event"] == "candle.stored"
    assert message["payload"]["close"] == 222.0
