"""Live "backtest.progress" events rendered as htmx out-of-band swaps.

The status badge and the progress bar have the same ids on the list and the
detail page, so one fragment updates whichever page is open. Built from the
event payload alone (no database read per event).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.template.loader import render_to_string

FINISHED = ("completed", "failed", "cancelled")


def progress_fragment(payload: Mapping[str, Any]) -> str:
    """Status badge and progress bar of a "backtest.progress" event, as out-of-band swaps."""
    live = {"pk": payload["session_id"], "status": payload["status"],
            "progress": payload["progress"], "progress_message": payload.get("message", ""),
            "is_finished": payload["status"] in FINISHED}
    return render_to_string("backtests/detail.html#live-status", {"live": live, "oob": True})
