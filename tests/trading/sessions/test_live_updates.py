"""A committed step reaches the session page's websocket: out-of-band HTML, the JSON event and
the coalesced price tick; a step that never committed publishes nothing. Runs through the real
ASGI application and the Redis channel layer."""

from __future__ import annotations

import json
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import connection

from organism.asgi import application
from organism.realtime import validate_event
from tests.asgi_websocket import WebsocketClient
from tests.trading.sessions.conftest import make_session, step

pytestmark = pytest.mark.django_db(transaction=True)


class WorkerKilled(BaseException):
    pass


def _headers(client, user) -> list[tuple[bytes, bytes]]:
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
            (b"origin", b"http://testserver")]


def _listen(headers, session_id: int, action, *, seconds: float) -> list[str]:
    """Everything the session's socket receives while `action` runs and shortly after."""

    async def scenario():
        socket = WebsocketClient(application, f"/ws/live/?groups=trading.{session_id}",
                                 headers=headers)
        connected, _ = await socket.connect(timeout=5)
        assert connected
        received: list[str] = []
        try:
            await sync_to_async(action)()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if await socket.receive_nothing(timeout=0.05):
                    continue
                received.append(await socket.receive_from())
        finally:
            await socket.disconnect()
        return received

    return async_to_sync(scenario)()


def _events(messages: list[str], session_id: int) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for text in messages:
        if text.startswith("{"):
            message = json.loads(text)
            if message["payload"].get("session_id") == session_id:
                found.setdefault(message["event"], []).append(message["payload"])
    return found


def test_a_committed_step_updates_the_session_page_live(client, user, btc):
    # given
    session = make_session([btc], candles_per_step=3)
    # when
    messages = _listen(_headers(client, user), session.pk, lambda: step(session), seconds=1.5)
    # then: the panels as out-of-band swaps, the step event and the last price
    html = next(m for m in messages if not m.startswith("{"))
    assert 'id="status-bar"' in html and 'hx-swap-oob="true"' in html and 'id="votes"' in html
    events = _events(messages, session.pk)
    update = events["trading.update"][0]
    validate_event("trading.update", update)
    assert update["kind"] == "step" and update["candles"] == 3 and "decisions" in update["kinds"]
    tick = events["price.tick"][-1]
    validate_event("price.tick", tick)
    assert tick["symbol"] == "BTC/USDT" and tick["price"] == update["prices"]["BTC/USDT"]


def test_a_step_that_never_committed_publishes_nothing(client, user, btc):
    # given
    session = make_session([btc], candles_per_step=3)

    def crash(execute, sql, params, many, context):
        if sql.startswith('UPDATE "trading_tradingsession"') and '"checkpoint" =' in sql:
            raise WorkerKilled()
        return execute(sql, params, many, context)

    def crashing_step():
        with connection.execute_wrapper(crash), pytest.raises(WorkerKilled):
            step(session)

    # when
    messages = _listen(_headers(client, user), session.pk, crashing_step, seconds=1.0)
    # then
    assert _events(messages, session.pk) == {}
