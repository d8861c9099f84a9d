"""Prometheus text exposition of the trading sessions (format 0.0.4).

Guarantees: every figure is read from the database at scrape time (so every
web process answers the same, and nothing is lost on restart), except the
dashboard websocket counters, which `organism.websocket_metrics` keeps in the
cache (Redis when distributed). Label values are escaped as the format requires. Families:
session equity, P&L, drawdown, open positions, heartbeat age, steps, trades
by outcome, orders by status, fills, the agents' confidence distribution over
recent decisions, and the dashboard's websocket connects, reconnects and
disconnects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count
from django.utils import timezone

from organism.websocket_metrics import websocket_counters
from trading.models import DecisionRecord, FillRecord, OrderRecord, TradeRecord, TradingSession

CONFIDENCE_BUCKETS = (0.1, 0.3, 0.5, 0.7, 0.9)
RECENT_DECISIONS = 200


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: object) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, metric: str, value: float, **labels: object) -> None:
        self.lines.append(f"{metric}{_labels(**labels)} {float(value):.10g}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def metrics_text() -> str:
    out = Exposition()
    sessions = list(TradingSession.objects.order_by("pk"))
    _session_gauges(out, sessions)
    _journal_counters(out)
    _agent_confidence(out, sessions)
    counters = websocket_counters()
    for name in ("connects", "reconnects", "disconnects", "refused"):
        family = f"organism_websocket_{name}_total"
        out.family(family, "counter", f"Dashboard websocket {name}")
        out.sample(family, counters.get(name, 0))
    return out.text()


def _session_gauges(out: Exposition, sessions: Iterable[TradingSession]) -> None:
    sessions = list(sessions)
    by_status: dict[str, int] = defaultdict(int)
    for session in sessions:
        by_status[session.status] += 1
    out.family("organism_trading_sessions", "gauge", "Trading sessions by status")
    for status in TradingSession.Status.values:
        out.sample("organism_trading_sessions", by_status.get(status, 0), status=status)
    now = timezone.now()
    gauges = (
        ("organism_trading_equity", "Account value at the last step (quote currency)",
         lambda s: s.equity if s.equity is not None else s.capital),
        ("organism_trading_pnl", "Equity minus capital (quote currency)",
         lambda s: s.pnl or 0),
        ("organism_trading_realized_pnl", "Realised P&L (quote currency)",
         lambda s: s.realized_pnl),
        ("organism_trading_drawdown", "Drawdown from the equity peak (fraction)",
         lambda s: s.drawdown),
        ("organism_trading_open_positions", "Open positions", lambda s: s.open_positions),
        ("organism_trading_heartbeat_age_seconds", "Seconds since the last committed step",
         lambda s: (now - s.heartbeat_at).total_seconds() if s.heartbeat_at else -1),
    )
    for name, help_text, read in gauges:
        out.family(name, "gauge", help_text)
        for session in sessions:
            out.sample(name, float(read(session)), session=session.pk, mode=session.mode,
                       name=session.name)
    out.family("organism_trading_steps_total", "counter", "Committed loop steps")
    for session in sessions:
        out.sample("organism_trading_steps_total", session.steps, session=session.pk)


def _journal_counters(out: Exposition) -> None:
    out.family("organism_trading_trades_total", "counter", "Closed trades by outcome")
    rows = TradeRecord.objects.values("session_id", "outcome").annotate(n=Count("id"))
    for row in rows.order_by("session_id", "outcome"):
        out.sample("organism_trading_trades_total", row["n"], session=row["session_id"],
                   outcome=row["outcome"])
    out.family("organism_trading_orders_total", "counter", "Orders by current status")
    rows = OrderRecord.objects.values("session_id", "status").annotate(n=Count("id"))
    for row in rows.order_by("session_id", "status"):
        out.sample("organism_trading_orders_total", row["n"], session=row["session_id"],
                   status=row["status"])
    out.family("organism_trading_fills_total", "counter", "Fills")
    rows = FillRecord.objects.values("session_id").annotate(n=Count("id"))
    for row in rows.order_by("session_id"):
        out.sample("organism_trading_fills_total", row["n"], session=row["session_id"])


def _agent_confidence(out: Exposition, sessions: Iterable[TradingSession]) -> None:
    """A histogram of each agent's signal confidence over recent decisions."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * (len(CONFIDENCE_BUCKETS) + 1))
    sums: dict[str, float] = defaultdict(float)
    for session in sessions:
        recent = (DecisionRecord.objects.filter(session=session).exclude(action="ENTRY_REFUSED")
                  .order_by("-ts_ms").values_list("details", flat=True)[:RECENT_DECISIONS])
        for details in recent:
            for signal in ((details or {}).get("vote") or {}).get("signals", []):
                confidence = float(signal.get("confidence") or 0.0)
                slot = next((i for i, b in enumerate(CONFIDENCE_BUCKETS) if confidence <= b),
                            len(CONFIDENCE_BUCKETS))
                counts[signal["agent"]][slot] += 1
                sums[signal["agent"]] += confidence
    name = "organism_trading_agent_confidence"
    out.family(name, "histogram", f"Agents' signal confidence over the last {RECENT_DECISIONS} "
               "decisions of each session")
    for agent in sorted(counts):
        running = 0
        for bound, count in zip((*CONFIDENCE_BUCKETS, "+Inf"), counts[agent], strict=True):
            running += count
            out.sample(f"{name}_bucket", running, agent=agent, le=bound)
        out.sample(f"{name}_sum", sums[agent], agent=agent)
        out.sample(f"{name}_count", running, agent=agent)
