"""Read-side queries of trading sessions and their journal (read-only, every list bounded).

Selectors return model rows or small frozen views; nothing here writes. The
kernel's live state that is not a journal row (working trailing orders, the
agents' current weights and accuracy) is read from the session's last
committed checkpoint, the only consistent picture of a running kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from trading.engine.kernel.serialization import trailing_from_json
from trading.engine.market import timeframe_ms
from trading.engine.orders.trailing import TrailingOrder
from trading.models import (
    DecisionRecord,
    EquitySnapshot,
    ExchangeAccount,
    FillRecord,
    OrderRecord,
    ParameterSet,
    PositionRecord,
    SessionAlert,
    TradeRecord,
    TradingSession,
)

OPEN_STATUSES = ("PENDING", "SUBMITTED", "PARTIAL")
MAX_ROWS = 500


def session_list(*, status: str | None = None) -> QuerySet[TradingSession]:
    sessions = (TradingSession.objects.prefetch_related("instruments__exchange")
                .select_related("parameter_set", "exchange_account__exchange")
                .annotate(trade_count=Count("trades", distinct=True)))
    if status:
        sessions = sessions.filter(status=status)
    return sessions.order_by("-created_at", "-id")


def session_get(session_id: int) -> TradingSession | None:
    return (TradingSession.objects.select_related("parameter_set", "exchange_account__exchange")
            .prefetch_related("instruments__exchange").filter(pk=session_id).first())


def session_symbols(session: TradingSession) -> list[str]:
    configured = (session.config or {}).get("symbols")
    return list(configured) if configured else sorted(i.symbol for i in session.instruments.all())


def position_list(session: TradingSession, *, open_only: bool = True) -> QuerySet[PositionRecord]:
    positions = PositionRecord.objects.filter(session=session)
    return positions.exclude(quantity=0) if open_only else positions


def order_list(session: TradingSession, *, status: str | None = None, symbol: str | None = None,
               open_only: bool = False, limit: int = 100) -> list[OrderRecord]:
    orders = OrderRecord.objects.filter(session=session)
    if open_only:
        orders = orders.filter(status__in=OPEN_STATUSES)
    if status:
        orders = orders.filter(status=status.upper())
    if symbol:
        orders = orders.filter(symbol=symbol)
    return list(orders.order_by("-created_ms", "-id")[: min(limit, MAX_ROWS)])


def order_get(client_order_id: str) -> OrderRecord | None:
    return OrderRecord.objects.select_related("session").filter(
        client_order_id=client_order_id).first()


@dataclass(frozen=True)
class TimelineEntry:
    ts_ms: int
    kind: str  # created | status | fill
    title: str
    detail: str


def order_timeline(order: OrderRecord) -> list[TimelineEntry]:
    """Creation, every status change and every fill of an order, oldest first."""
    entries = []
    for ts, source, target, reason in order.history:
        kind = "created" if source is None else "status"
        title = target if source is None else f"{source} → {target}"
        entries.append(TimelineEntry(ts, kind, title, reason))
    for fill in order.fills.order_by("ts_ms", "id"):
        entries.append(TimelineEntry(
            fill.ts_ms, "fill", f"fill {fill.quantity.normalize()} @ {fill.price.normalize()}",
            f"{fill.liquidity.lower()} · fee {fill.fee.normalize()} · {fill.fill_id}"))
    return sorted(entries, key=lambda e: (e.ts_ms, e.kind != "created", e.kind == "fill"))


def trade_list(session: TradingSession, *, symbol: str | None = None, outcome: str | None = None,
               exit_reason: str | None = None, since_ms: int | None = None,
               until_ms: int | None = None) -> QuerySet[TradeRecord]:
    trades = TradeRecord.objects.filter(session=session)
    if symbol:
        trades = trades.filter(symbol=symbol)
    if outcome:
        trades = trades.filter(outcome=outcome)
    if exit_reason:
        trades = trades.filter(exit_reason=exit_reason)
    if since_ms is not None:
        trades = trades.filter(closed_ms__gte=since_ms)
    if until_ms is not None:
        trades = trades.filter(closed_ms__lt=until_ms)
    return trades.order_by("-closed_ms", "-id")


def trade_get(session: TradingSession, trade_id: int) -> TradeRecord | None:
    return TradeRecord.objects.filter(session=session, pk=trade_id).first()


def trade_orders(trade: TradeRecord) -> list[OrderRecord]:
    """The orders of a trade's symbol placed while it was open (entry, take-profits, exit)."""
    bar = timeframe_ms(trade.session.timeframe)
    return list(OrderRecord.objects.filter(
        session_id=trade.session_id, symbol=trade.symbol,
        created_ms__gte=trade.opened_ms - bar, created_ms__lte=trade.closed_ms,
    ).order_by("created_ms", "id"))


def exit_reasons(session: TradingSession) -> list[str]:
    return sorted(set(TradeRecord.objects.filter(session=session)
                      .values_list("exit_reason", flat=True)))


def decision_list(session: TradingSession, *, symbol: str | None = None,
                  actions: Sequence[str] | None = None, limit: int = 50) -> list[DecisionRecord]:
    decisions = DecisionRecord.objects.filter(session=session)
    if symbol:
        decisions = decisions.filter(symbol=symbol)
    if actions:
        decisions = decisions.filter(action__in=actions)
    return list(decisions.order_by("-ts_ms", "-id")[: min(limit, MAX_ROWS)])


@dataclass(frozen=True)
class LatestVote:
    symbol: str
    ts_ms: int
    action: str
    confidence: float
    reasoning: str
    consensus: dict[str, Any]
    signals: list[dict[str, Any]]
    excluded: list[dict[str, Any]]
    weights: dict[str, float]


def latest_votes(session: TradingSession) -> list[LatestVote]:
    """The last decision of each symbol with every agent's signal and the consensus."""
    votes = []
    for symbol in session_symbols(session):
        record = (DecisionRecord.objects.filter(session=session, symbol=symbol)
                  .exclude(action="ENTRY_REFUSED").order_by("-ts_ms", "-id").first())
        if record is None:
            continue
        vote = (record.details or {}).get("vote") or {}
        votes.append(LatestVote(
            symbol, record.ts_ms, record.action, record.confidence, record.reasoning,
            vote.get("consensus") or {}, vote.get("signals") or [], vote.get("excluded") or [],
            vote.get("weights") or {},
        ))
    return votes


def alert_list(session: TradingSession, *, limit: int = 30) -> list[SessionAlert]:
    return list(SessionAlert.objects.filter(session=session).order_by("-ts_ms", "-id")[:limit])


def equity_points(session: TradingSession, *, max_points: int = 2_000) -> list[EquitySnapshot]:
    """Equity marks, evenly thinned to at most `max_points` (the last one always kept)."""
    marks = EquitySnapshot.objects.filter(session=session).order_by("ts_ms")
    total = marks.count()
    if total <= max_points:
        return list(marks)
    step = -(-total // max_points)
    rows = list(marks.only("ts_ms", "equity", "drawdown"))
    thinned = rows[::step]
    return thinned if thinned[-1] is rows[-1] else [*thinned, rows[-1]]


def fill_list(session: TradingSession, *, since_ms: int | None = None,
              limit: int = MAX_ROWS) -> list[FillRecord]:
    fills = FillRecord.objects.filter(session=session)
    if since_ms is not None:
        fills = fills.filter(ts_ms__gte=since_ms)
    return list(fills.order_by("-ts_ms", "-id")[:limit])


@dataclass(frozen=True)
class WorkingTrailing:
    symbol: str
    side: str
    purpose: str
    quantity: str
    trail: float
    best_price: float | None
    trigger_price: float | None


def working_trailing(session: TradingSession) -> list[WorkingTrailing]:
    """Trailing orders waiting in the kernel at its last checkpoint."""
    found = []
    for symbol, state in ((session.checkpoint or {}).get("symbols") or {}).items():
        trailing = state.get("trailing")
        if not trailing:
            continue
        order = TrailingOrder.restore(trailing_from_json(trailing["state"]))
        if not order.is_active:
            continue
        found.append(WorkingTrailing(symbol, order.side.value, trailing["purpose"],
                                     str(order.quantity), order.trail, order.best_price,
                                     order.trigger_price))
    return found


def agent_states(session: TradingSession) -> list[dict[str, Any]]:
    """Per agent: enabled, the operator's base weight, the kernel's adapted weight, accuracy."""
    from trading.session_config import AGENT_NAMES

    orchestrators = ((session.checkpoint or {}).get("orchestrators") or {})
    state = next(iter(orchestrators.values()), {})
    enabled = set(session.agents_enabled or AGENT_NAMES)
    rows = []
    for name in AGENT_NAMES:
        accuracy = (state.get("accuracy") or {}).get(name) or {}
        rows.append({
            "name": name, "enabled": name in enabled,
            "weight": float((session.agent_weights or {}).get(name, 1.0)),
            "current_weight": (state.get("weights") or {}).get(name),
            "hit_rate": accuracy.get("hit_rate"), "outcomes": accuracy.get("outcomes", 0),
        })
    return rows


def parameter_set_list(*, name: str | None = None) -> QuerySet[ParameterSet]:
    sets = ParameterSet.objects.annotate(session_count=Count("sessions"))
    if name:
        sets = sets.filter(name=name)
    return sets.order_by("name", "-version")


def parameter_set_get(parameter_set_id: int) -> ParameterSet | None:
    return ParameterSet.objects.select_related("parent").filter(pk=parameter_set_id).first()


def parameter_set_versions(parameter_set: ParameterSet) -> QuerySet[ParameterSet]:
    return (ParameterSet.objects.filter(name=parameter_set.name)
            .annotate(session_count=Count("sessions")).order_by("-version"))


def exchange_account_list() -> QuerySet[ExchangeAccount]:
    return ExchangeAccount.objects.select_related("exchange").order_by("exchange__code", "label")


def active_session_count() -> int:
    return TradingSession.objects.filter(~Q(status=TradingSession.Status.STOPPED)).count()
