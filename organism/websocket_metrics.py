"""Counters of dashboard websocket connections, for the metrics endpoint.

Kept in the default cache (Redis when configured, so every web process adds to
the same counters; per-process memory in embedded mode). Counters only grow,
as Prometheus counters should, and never expire:
- connects:    sockets accepted (first connections and reconnections)
- reconnects:  accepted sockets the page opened again after losing one
               (static/js/organism.js adds `reconnect=1` to those)
- disconnects: accepted sockets that closed
- refused:     sockets refused because the user was not logged in

Counting never breaks a socket: a cache failure is logged and ignored.
Keys are namespaced by the cache's KEY_PREFIX (the deployment's channel prefix).
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.core.cache import cache

log = logging.getLogger(__name__)

COUNTERS = ("connects", "reconnects", "disconnects", "refused")
_KEY = "organism:websocket:{}"


def websocket_counters() -> dict[str, int]:
    """{"connects": n, "reconnects": n, "disconnects": n, "refused": n}."""
    values = cache.get_many([_KEY.format(name) for name in COUNTERS])
    return {name: int(values.get(_KEY.format(name), 0)) for name in COUNTERS}


def websocket_count(*names: str) -> None:
    """Add one to each named counter."""
    for name in names:
        if name not in COUNTERS:
            raise ValueError(f"unknown websocket counter {name!r}")
        key = _KEY.format(name)
        try:
            cache.add(key, 0, timeout=None)  # no-op when it exists; incr needs the key
            cache.incr(key)
        except Exception:  # metrics must never break the dashboard
            log.exception("could not count websocket %s", name)


async def websocket_count_async(*names: str) -> None:
    await sync_to_async(websocket_count, thread_sensitive=False)(*names)
