"""Live "trading.update" events rendered as htmx out-of-band swaps.

Registered with `organism.live_fragments` in `TradingConfig.ready`. One event
per committed step (prices coalesced at the publisher); the fragments are the
session page's `{% partialdef %}` blocks and the sessions list's row, read
fresh from the database (imported lazily: the engine is not loaded at startup). Several browser tabs receive the same event: the
HTML of one (session, step) is rendered once and reused for a few seconds.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from django.template.loader import render_to_string

LIVE_BLOCKS = ("status-bar", "positions", "open-orders", "votes", "alerts", "recent-trades")
CACHE_SECONDS = 5.0
CACHE_SIZE = 64
_cache: OrderedDict[tuple[Any, ...], tuple[float, str]] = OrderedDict()
_lock = threading.Lock()


def _cache_key(payload: Mapping[str, Any]) -> tuple[Any, ...]:
    return (payload["session_id"], payload["kind"], payload.get("status"),
            payload.get("last_ts_ms"), payload.get("equity"))


def session_update_fragment(payload: Mapping[str, Any]) -> str:
    """The session page's live blocks and the sessions-list row, with hx-swap-oob."""
    key = _cache_key(payload)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
    from trading.session_pages import session_live_context  # heavy imports: not at startup
    from trading.session_selectors import session_get

    session = session_get(int(payload["session_id"]))
    if session is None:
        return ""
    context = session_live_context(session) | {"oob": True}
    html = "".join(render_to_string(f"trading/sessions/detail.html#{block}", context)
                   for block in LIVE_BLOCKS)
    html += render_to_string("trading/sessions/list.html#session-row",
                             {"session": session, "oob": True})
    with _lock:
        _cache[key] = (now, html)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return html
