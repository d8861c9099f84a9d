"""What the trading pages show: the context of a session page and of its live fragments.

The session page and the websocket fragments render the same `{% partialdef %}`
blocks from the same context, so a live update shows exactly what a reload would.
"""

from __future__ import annotations

from typing import Any

from trading.models import TradingSession
from trading.session_selectors import (
    agent_states,
    alert_list,
    latest_votes,
    order_list,
    position_list,
    trade_list,
    working_trailing,
)

RECENT_TRADES = 10
RECENT_ALERTS = 15


def session_live_context(session: TradingSession) -> dict[str, Any]:
    """Status, positions, open orders, agent votes, alerts and recent trades of a session."""
    return {
        "session": session,
        "positions": list(position_list(session)),
        "open_orders": order_list(session, open_only=True, limit=50),
        "trailing": working_trailing(session),
        "votes": latest_votes(session),
        "alerts": alert_list(session, limit=RECENT_ALERTS),
        "recent_trades": list(trade_list(session)[:RECENT_TRADES]),
    }


def session_page_context(session: TradingSession) -> dict[str, Any]:
    from trading.session_forms import AgentWeightsForm

    agents = agent_states(session)
    return {
        **session_live_context(session),
        "agents": agents,
        "weights_form": AgentWeightsForm(agents=agents),
        "symbols": (session.config or {}).get("symbols")
        or sorted(i.symbol for i in session.instruments.all()),
        "live_groups": f"trading.{session.pk}",
    }
