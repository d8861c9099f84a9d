"""HTML for live events: what a "candle.stored" event changes on the Markets pages.

Registered with `organism.live_fragments` in `TradingConfig.ready`; the
websocket consumer sends the result for htmx to swap out of band. Kept free of
chart and indicator imports so every process starts quickly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.template.loader import render_to_string

from trading.market_selectors import LatestCandle


def latest_candle_fragment(payload: Mapping[str, Any]) -> str:
    """The "latest candle" cell (Markets and instrument pages) with hx-swap-oob."""
    candle = LatestCandle(
        instrument_id=payload["instrument_id"],
        timeframe=payload["timeframe"],
        open_time=payload["open_time"],
        open=payload["open"],
        high=payload["high"],
        low=payload["low"],
        close=payload["close"],
        volume=payload["volume"],
    )
    return render_to_string("trading/markets.html#latest-candle", {"candle": candle, "oob": True})
