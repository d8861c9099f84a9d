"""Websocket connection counters for the metrics endpoint, through the real ASGI application.

The counters live in the shared Redis cache and only grow; each test gets a
cache key prefix of its own, so it sees exactly its own counts.
"""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache

from organism.asgi import application
from organism.websocket_metrics import COUNTERS, websocket_count, websocket_counters
from tests.asgi_websocket import WebsocketClient

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://testserver")
ZERO = dict.fromkeys(COUNTERS, 0)


@pytest.fixture(autouse=True)
def _own_counters(settings):
    default = {**settings.CACHES["default"], "KEY_PREFIX": f"rt-{uuid.uuid4().hex}"}
    settings.CACHES = {**settings.CACHES, "default": default}
    yield
    cache.delete_many([f"organism:websocket:{name}" for name in COUNTERS])


def _headers(client, user) -> list[tuple[bytes, bytes]]:
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()), ORIGIN]


def _open_and_close(path: str, headers) -> bool:
    async def scenario():
        socket = WebsocketClient(application, path, headers=headers)
        connected, _ = await socket.connect(timeout=5)
        await socket.disconnect()
        return connected

    return async_to_sync(scenario)()


def test_it_counts_a_connection_and_its_disconnection(client, user):
    # given
    headers = _headers(client, user)
    # when
    connected = _open_and_close("/ws/live/?groups=markets", headers)
    # then
    assert connected
    assert websocket_counters() == {**ZERO, "connects": 1, "disconnects": 1}


def test_it_counts_a_reconnection_the_page_reports(client, user):
    # given
    headers = _headers(client, user)
    # when the page opens its socket, loses it and opens it again
    _open_and_close("/ws/live/?groups=markets", headers)
    connected = _open_and_close("/ws/live/?groups=markets&reconnect=1", headers)
    # then
    assert connected
    assert websocket_counters() == {**ZERO, "connects": 2, "reconnects": 1, "disconnects": 2}


def test_it_counts_a_refused_anonymous_socket_but_not_as_a_connection():
    # when
    connected = _open_and_close("/ws/live/?groups=markets", [ORIGIN])
    # then
    assert not connected
    assert websocket_counters() == {**ZERO, "refused": 1}


def test_the_counters_start_at_zero_and_only_grow():
    # given a deployment whose counters were never touched
    assert websocket_counters() == ZERO
    # when
    websocket_count("connects")
    websocket_count("connects", "reconnects")
    # then
    assert websocket_counters() == {**ZERO, "connects": 2, "reconnects": 1}
    with pytest.raises(ValueError, match="unknown websocket counter"):
        websocket_count("opened")
