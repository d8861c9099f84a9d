"""Live "evolution.generation" events rendered as htmx out-of-band swaps.

The status badge and the progress bar have the same ids on the runs list and the
run page, so one fragment updates whichever page is open; when a generation was
stored ("generation" events) the convergence charts are re-rendered from the
stored statistics, exactly as a page reload would draw them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.template.loader import render_to_string

from evolution.page_context import convergence_charts, live_state

TEMPLATE = "evolution/run.html"


def generation_fragment(payload: Mapping[str, Any]) -> str:
    """Status badge, progress bar and (after a stored generation) the convergence charts."""
    html = render_to_string(f"{TEMPLATE}#live-status", {"live": live_state(payload), "oob": True})
    if payload.get("kind") == "generation":
        run_id = int(payload["run_id"])
        html += render_to_string(f"{TEMPLATE}#convergence-charts", {
            "run_id": run_id, "convergence": convergence_charts(run_id), "oob": True})
    return html
