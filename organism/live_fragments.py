"""Event type -> HTML fragment renderers for htmx out-of-band swaps.

Apps register a renderer for their event types at import time (in their
AppConfig.ready). The consumer calls `render`; a renderer returns HTML with
`hx-swap-oob` attributes, typically a `{% partialdef %}` of the page template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from asgiref.sync import sync_to_async

Renderer = Callable[[Mapping[str, Any]], str]
_renderers: dict[str, list[Renderer]] = {}


def register(event_type: str, renderer: Renderer) -> None:
    if renderer not in _renderers.setdefault(event_type, []):
        _renderers[event_type].append(renderer)


def render_sync(event_type: str, payload: Mapping[str, Any]) -> str:
    return "".join(r(payload) for r in _renderers.get(event_type, []))


async def render(event_type: str, payload: Mapping[str, Any]) -> str:
    if event_type not in _renderers:
        return ""
    return await sync_to_async(render_sync, thread_sensitive=False)(event_type, payload)
