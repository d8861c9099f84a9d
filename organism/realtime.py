"""Realtime events: the one place that names websocket groups and publishes to them.

Services call `publish_after_commit(group, event_type, payload)`; the event is
sent only once the surrounding transaction commits (never for a rolled-back
change). Each event type has a schema (`EVENT_SCHEMAS`) that tests check.

Embedded mode runs the web server and the Celery worker in one process with an
in-memory channel layer. That layer is bound to the web server's event loop, so
publishers on other threads hand the send to that loop (`bind_event_loop`).
With Redis, sends from synchronous code go through one long-lived loop per
process (`PublisherLoop`), so they reuse its Redis connection instead of opening
one per message.

Price ticks are coalesced at the publisher: `publish_price` sends at most one
"price.tick" per group and symbol per ORGANISM_TICK_INTERVAL_MS, always ending
on the latest price (`TickCoalescer`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Coroutine, Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

from organism.publisher_loop import PublisherLoop
from organism.tick_coalescer import TickCoalescer

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
    "evolution.generation": {
        "run_id": int, "generation": int, "status": str, "kind": str, "progress": float,
    },
    "trading.update": {"session_id": int, "kind": str},
    # plus session_id or instrument_id (EVENT_KEYS_ONE_OF); ts in epoch milliseconds
    "price.tick": {"symbol": str, "price": float, "ts": int},
}
# Event type -> keys of which at least one must be present (each present one an int).
EVENT_KEYS_ONE_OF: dict[str, tuple[str, ...]] = {
    "price.tick": ("session_id", "instrument_id"),
}

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
_publisher = PublisherLoop()
_price_ticks: TickCoalescer | None = None
_price_ticks_lock = threading.Lock()


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
    alternatives = EVENT_KEYS_ONE_OF.get(event_type, ())
    if alternatives and not any(key in payload for key in alternatives):
        raise ValueError(f"event {event_type}: needs one of {', '.join(alternatives)}")
    for key in alternatives:
        if key in payload and (type(payload[key]) is not int):
            raise ValueError(f"event {event_type}: {key!r} must be an int")


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
            elif isinstance(layer, InMemoryChannelLayer):
                async_to_sync(layer.group_send)(group, message)
            else:
                _send_on_publisher_loop(layer.group_send(group, message))
        except Exception:  # a dashboard that misses a tick must never break a service
            log.exception("realtime publish to %s failed", group)


def publish_after_commit(groups: list[str] | str, event_type: str, payload: Mapping[str, Any]) -> None:
    """Publish once the current transaction commits (immediately outside a transaction)."""
    validate_event(event_type, payload)
    frozen = dict(payload)
    transaction.on_commit(lambda: publish_now(groups, event_type, frozen))


def publish_price(groups: list[str] | str, payload: Mapping[str, Any]) -> None:
    """Publish a "price.tick" after commit, coalesced per group and symbol: the first
    tick of a quiet symbol goes at once, then at most one per ORGANISM_TICK_INTERVAL_MS,
    the last one always carrying the latest price. Never blocks on the send."""
    validate_event("price.tick", payload)
    frozen = dict(payload)
    names = [groups] if isinstance(groups, str) else list(groups)

    def offer() -> None:
        coalescer = price_tick_coalescer()
        for group in names:
            coalescer.offer((group, frozen["symbol"]), frozen)

    transaction.on_commit(offer)


def price_tick_coalescer() -> TickCoalescer:
    """This process's coalescer for price ticks (rebuilt if the interval setting changed)."""
    global _price_ticks
    interval = settings.ORGANISM_TICK_INTERVAL_MS / 1000
    with _price_ticks_lock:
        stale = _price_ticks
        current = stale
        if current is None or current.interval != interval:
            current = TickCoalescer(_send_price_tick, interval=interval, name="price-ticks")
            _price_ticks = current
    if stale is not None and stale is not current:
        stale.close()
    return current


def _send_price_tick(key: tuple[str, str], payload: Mapping[str, Any]) -> None:
    publish_now(key[0], "price.tick", payload)


def _send_on_publisher_loop(coro: Coroutine[Any, Any, None]) -> None:
    """Wait for the send from synchronous code; from inside an event loop, don't block it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _publisher.run(coro, timeout=5)
        return
    _publisher.submit(coro).add_done_callback(_log_failed_send)


def _log_failed_send(future: concurrent.futures.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("realtime publish failed", exc_info=future.exception())


def _reset_after_fork() -> None:
    # Threads do not survive a fork (Celery prefork children): start afresh.
    global _publisher, _price_ticks, _price_ticks_lock
    _publisher = PublisherLoop()
    _price_ticks = None
    _price_ticks_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)
