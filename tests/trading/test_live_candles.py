"""Live candles: a candle stored and published after commit reaches the dashboard's websocket.

Runs through the real ASGI application (session auth, origin check, routing,
LiveConsumer) and the Redis channel layer. Other test runs may publish to the
same groups on the same Redis, so each test waits for ITS candle (a unique
close price) and ignores the rest.
"""

from __future__ import annotations

import json
import random
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import transaction

from organism import live_fragments
from organism.asgi import application
from organism.realtime import (
    group_for_instrument,
    group_markets,
    publish_after_commit,
    validate_event,
)
from tests.asgi_websocket import WebsocketClient
from tests.factories import InstrumentFactory
from trading.models import Candle

pytestmark = pytest.mark.django_db(transaction=True)

OPEN_TIME = 1_767_225_600_000  # 2026-01-01 00:00 UTC



def _session_headers(client, user) -> list[tuple[bytes, bytes]]:
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        (b"origin", b"http://testserver"),
    ]


def _unique_close() -> float:
    """A close with a fractional part, so its page text ("56,224.5") is one known form (a
    whole close showed as "56,224", which "56,224." never matched)."""
    return random.randint(10_000, 90_000) + 0.5


def _store_candle(instrument, close: float, *, commit: bool = True) -> None:
    """Store a candle and publish it after commit, as the market-data services do."""
    payload = {
        "instrument_id": instrument.pk,
        "symbol": instrument.symbol,
        "timeframe": "1h",
        "open_time": OPEN_TIME,
        "open": close - 100,
        "high": close + 50,
        "low": close - 150,
        "close": close,
        "volume": 12.5,
    }
    try:
        with transaction.atomic():
            Candle.objects.create(
                instrument=instrument,
                **{
                    k: payload[k]
                    for k in ("timeframe", "open_time", "open", "high", "low", "close", "volume")
                },
            )
            publish_after_commit(
                [group_markets(), group_for_instrument(instrument.pk)], "candle.stored", payload
            )
            if not commit:
                raise RuntimeError("roll back")
    except RuntimeError:
        pass


async def _messages_about(
    communicator, instrument_id: int, close_text: str, *, seconds: float
) -> list[str]:
    """Messages about our candle, until both (HTML + JSON) arrived or time ran out."""
    found: list[str] = []
    deadline = time.monotonic() + seconds
    while len(found) < 2 and time.monotonic() < deadline:
        # receive_nothing polls without cancelling the application the way a timeout does
        if await communicator.receive_nothing(timeout=0.05):
            continue
        text = await communicator.receive_from()
        is_ours_html = f"latest-candle-{instrument_id}-1h" in text and close_text in text
        is_ours_json = text.startswith("{") and json.loads(text)["payload"].get("close") == float(
            close_text.replace(",", "")
        )
        if is_ours_html or is_ours_json:
            found.append(text)
    return found


def _run_socket(
    path: str, headers, action, *, instrument_id: int, close_text: str, seconds: float = 5.0
):
    async def scenario():
        communicator = WebsocketClient(application, path, headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        try:
            await sync_to_async(action)()
            return await _messages_about(communicator, instrument_id, close_text, seconds=seconds)
        finally:
            await communicator.disconnect()

    return async_to_sync(scenario)()


def test_a_stored_candle_updates_the_markets_page_live(client, user):
    # given
    instrument = InstrumentFactory(base="BTC", symbol="BTC/USDT")
    close = _unique_close()
    close_text = f"{close:,.2f}".rstrip("0")
    # when
    messages = _run_socket(
        "/ws/live/?groups=markets",
        _session_headers(client, user),
        lambda: _store_candle(instrument, close),
        instrument_id=instrument.pk,
        close_text=close_text,
    )
    # then: an out-of-band fragment for the latest-candle cell, then the JSON event
    assert len(messages) == 2, messages
    html, event = messages
    assert f'id="latest-candle-{instrument.pk}-1h"' in html and 'hx-swap-oob="true"' in html
    assert close_text in html and "2026-01-01 00:00 UTC" in html
    message = json.loads(event)
    assert message["event"] == "candle.stored"
    validate_event("candle.stored", message["payload"])


def test_the_instrument_page_socket_receives_the_candle_for_its_chart(client, user):
    # given
    instrument = InstrumentFactory()
    close = _unique_close()
    close_text = f"{close:,.2f}".rstrip("0")
    # when
    messages = _run_socket(
        f"/ws/live/?groups=instrument.{instrument.pk}",
        _session_headers(client, user),
        lambda: _store_candle(instrument, close),
        instrument_id=instrument.pk,
        close_text=close_text,
    )
    # then
    payload = json.loads(messages[-1])["payload"]
    assert payload["instrument_id"] == instrument.pk and payload["open_time"] == OPEN_TIME
    assert payload["close"] == close and payload["timeframe"] == "1h"


def test_a_rolled_back_candle_is_never_published(client, user):
    # given
    instrument = InstrumentFactory()
    close = _unique_close()
    # when
    messages = _run_socket(
        "/ws/live/?groups=markets",
        _session_headers(client, user),
        lambda: _store_candle(instrument, close, commit=False),
        instrument_id=instrument.pk,
        close_text=f"{close:,.2f}".rstrip("0"),
        seconds=1.0,
    )
    # then
    assert messages == []
    assert not Candle.objects.filter(instrument=instrument).exists()


def test_an_anonymous_socket_is_refused():
    async def scenario():
        communicator = WebsocketClient(
            application, "/ws/live/?groups=markets", headers=[(b"origin", b"http://testserver")]
        )
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert not connected and code == 4401


def test_the_fragment_renderer_is_registered_for_stored_candles():
    # when
    html = live_fragments.render_sync(
        "candle.stored",
        {
            "instrument_id": 7,
            "symbol": "ETH/USDT",
            "timeframe": "4h",
            "open_time": OPEN_TIME,
            "open": 3010.0,
            "high": 3050.25,
            "low": 2990.0,
            "close": 3001.75,
            "volume": 1234.5,
        },
    )
    # then
    assert html.startswith('<span id="latest-candle-7-4h"') and 'hx-swap-oob="true"' in html
    assert "3,001.75" in html and "down" in html and "V 1,234.5" in html
