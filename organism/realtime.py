"""Realtime events: the one place that names websocket groups and publishes to them.

Services call `publish_after_commit(group, event_type, payload)`; the event is
sent only once the surrounding transaction commits (never for a rolled-back
change). Each event type has a schema (`EVENT_SCHEMAS`) that tests check.

Embedded mode runs the web server and the Celery worker in one process with an
in-memory channel layer. That layer is bound to the web server's event loop, so
publishers on other threads hand the send to that loop (`bind_event_loop`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

# Event type -> required payload keys (and their types). Consumers rely on these.
EVENT_SCHEMAS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "candle.stored": {
        "instrument_id": int,
        "symbol": str,
        "timeframe": str,
        "open_time": int,
        "open": float,
        "high": float,
        "low": float,
        "close": float,
        "volume": float,
    },
    "backtest.progress": {"session_id": int, "status": str, "progress": float},
    "evolution.generation": {"run_id": int, "generation": int, "status": str},
    "trading.update": {"session_id": int, "kind": str},
}

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def group_for_instrument(instrument_id: int) -> str:
    return f"instrument.{instrument_id}"


def group_markets() -> str:
    return "markets"


def group_for_backtest(session_id: int) -> str:
    return f"backtest.{session_id}"


def group_for_evolution(run_id: int) -> str:
    return f"evolution.{run_id}"


def group_for_trading(session_id: int) -> str:
    return f"trading.{session_id}"


def validate_event(event_type: str, payload: Mapping[str, Any]) -> None:
    """Raise ValueError if `payload` does not match the schema of `event_type`."""
    schema = EVENT_SCHEMAS.get(event_type)
    if schema is None:
        raise ValueError(f"unknown event type {event_type!r}")
    for key, kind in schema.items():
        if key not in payload:
            raise ValueError(f"event {event_type}: missing {key!r}")
        if not isinstance(payload[key], kind):
            raise ValueError(f"event {event_type}: {key!r} must be {kind}, got {type(payload[key]).__name__}")


def bind_event_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Embedded mode: the loop that owns the in-memory channel layer."""
    global _loop
    with _loop_lock:
        _loop = loop


def publish_now(groups: list[str] | str, event_type: str, payload: Mapping[str, Any]) -> None:
    """Send immediately (use `publish_after_commit` from services)."""
    validate_event(event_type, payload)
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "organism.event", "event": event_type, "payload": dict(payload), "sent_at": time.time()}
    for group in [groups] if isinstance(groups, str) else groups:
        try:
            loop = _loop
            if loop is not None and loop.is_running():
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                if running is loop:
                    loop.create_task(layer.group_send(group, message))
                else:
                    asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(5)
            else:
                async_to_sync(layer.group_send)(group, message)
        except Exception:  # a dashboard that misses a tick must never break a service
            log.exception("realtime publish to %s failed", group)


def publish_after_commit(groups: list[str] | str, event_type: str, payload: Mapping[str, Any]) -> None:
    """Publish once the current transaction commits (immediately outside a transaction)."""
    validate_event(event_type, payload)
    frozen = dict(payload)
    transaction.on_commit(lambda: publish_now(groups, event_type, frozen))
