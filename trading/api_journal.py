"""The trading journal over the API: positions, orders (with traces), trades, decisions,
alerts, equity, and the analytics computed from them (performance, agent
performance, execution quality). Read-only; every list is bounded by `limit`.
Times are epoch milliseconds (UTC); money in the session's quote currency.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import Http404
from ninja import Field, Query, Router, Schema

from trading.models import OrderRecord, TradingSession
from trading.session_analytics import agent_performance, execution_quality, performance
from trading.session_selectors import (
    alert_list,
    decision_list,
    equity_points,
    order_list,
    order_timeline,
    position_list,
    session_get,
    trade_get,
    trade_list,
)

router = Router(tags=["trading journal"])


class PositionOut(Schema):
    symbol: str
    quantity: str
    average_entry: str | None
    mark_price: float | None
    unrealized_pnl: str
    realized_pnl: str
    fees: str
    opened_ms: int | None
    updated_ms: int


class OrderOut(Schema):
    client_order_id: str
    symbol: str
    side: Literal["BUY", "SELL"]
    order_type: str
    purpose: str
    tag: str
    quantity: str
    filled_quantity: str
    limit_price: str | None
    reference_price: float | None = Field(description="Price it was placed at")
    status: str
    reason: str
    exchange_order_id: str
    created_ms: int
    updated_ms: int
    history: list[list[Any]] = Field(description="[ts_ms, from, to, reason] per status change")


class FillOut(Schema):
    fill_id: str
    ts_ms: int
    quantity: str
    price: str
    fee: str
    liquidity: str


class TimelineOut(Schema):
    ts_ms: int
    kind: Literal["created", "status", "fill"]
    title: str
    detail: str


class OrderTraceOut(Schema):
    order: OrderOut
    fills: list[FillOut]
    timeline: list[TimelineOut]


class TradeOut(Schema):
    id: int
    symbol: str
    direction: str
    opened_ms: int
    closed_ms: int
    quantity: str
    entry_price: str
    exit_price: str
    realized_pnl: str
    fees: str
    net_pnl: str
    net_return: float
    hold_ms: int
    max_adverse_excursion: float
    max_favourable_excursion: float
    best_exit_price: float
    best_exit_ms: int
    efficiency: float | None
    outcome: Literal["big_win", "win", "breakeven", "loss", "big_loss"]
    exit_reason: str


class TradeDetailOut(TradeOut):
    entry_context: dict[str, Any] = Field(
        description="Market state, indicators, every agent's signal, regime, consensus, "
        "confidence, reasoning, decision (sizing, exit plan) at entry")


class DecisionOut(Schema):
    symbol: str
    ts_ms: int
    action: str
    confidence: float
    reasoning: str
    details: dict[str, Any] | None = None


class AlertOut(Schema):
    ts_ms: int
    kind: str
    level: str
    breaker: str
    action: str
    message: str
    value: float | None
    limit: float | None


class EquityOut(Schema):
    timestamps: list[int]
    equity: list[float]
    drawdown: list[float]


class OrdersQuery(Schema):
    status: Literal["PENDING", "SUBMITTED", "PARTIAL", "FILLED", "CANCELLED", "REJECTED",
                    "EXPIRED"] | None = None
    symbol: str | None = Field(None, max_length=40)
    open: bool = False
    limit: int = Field(100, ge=1, le=500)


class TradesQuery(Schema):
    symbol: str | None = Field(None, max_length=40)
    outcome: Literal["big_win", "win", "breakeven", "loss", "big_loss"] | None = None
    exit_reason: str | None = Field(None, max_length=40)
    since_ms: int | None = Field(None, ge=0, description="Closed at or after (ms)")
    until_ms: int | None = Field(None, ge=0, description="Closed before (ms)")
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0)


class LimitQuery(Schema):
    limit: int = Field(50, ge=1, le=500)


class PositionsQuery(Schema):
    include_flat: bool = Field(False, description="Also symbols without a position")


class DecisionsQuery(Schema):
    symbol: str | None = Field(None, max_length=40)
    action: str | None = Field(None, max_length=16, description="e.g. TRAIL_BUY, SKIP")
    limit: int = Field(50, ge=1, le=500)
    details: bool = Field(False, description="Include the decision and every agent's vote")


def _session(session_id: int) -> TradingSession:
    session = session_get(session_id)
    if session is None:
        raise Http404("No such trading session")
    return session


def _order_out(order: OrderRecord) -> dict[str, Any]:
    out = {f: getattr(order, f) for f in (
        "client_order_id", "symbol", "side", "order_type", "purpose", "tag", "reference_price",
        "status", "reason", "exchange_order_id", "created_ms", "updated_ms", "history")}
    for name in ("quantity", "filled_quantity", "limit_price"):
        value = getattr(order, name)
        out[name] = None if value is None else str(value.normalize())
    return out


def _decimal_fields(row: Any, names: tuple[str, ...]) -> dict[str, str | None]:
    return {n: None if getattr(row, n) is None else str(getattr(row, n).normalize()) for n in names}


def _trade_out(trade: Any, *, context: bool = False) -> dict[str, Any]:
    out = {f: getattr(trade, f) for f in (
        "id", "symbol", "direction", "opened_ms", "closed_ms", "net_return", "hold_ms",
        "max_adverse_excursion", "max_favourable_excursion", "best_exit_price", "best_exit_ms",
        "efficiency", "outcome", "exit_reason")}
    out |= _decimal_fields(trade, ("quantity", "entry_price", "exit_price", "realized_pnl",
                                   "fees", "net_pnl"))
    if context:
        out["entry_context"] = trade.entry_context or {}
    return out


@router.get("/sessions/{int:session_id}/positions", response=list[PositionOut],
            summary="Open positions with live P&L")
def positions(request, session_id: int, query: Query[PositionsQuery]):
    rows = position_list(_session(session_id), open_only=not query.include_flat)
    return [{"symbol": p.symbol, "mark_price": p.mark_price, "opened_ms": p.opened_ms,
             "updated_ms": p.updated_ms,
             **_decimal_fields(p, ("quantity", "average_entry", "unrealized_pnl",
                                   "realized_pnl", "fees"))} for p in rows]


@router.get("/sessions/{int:session_id}/orders", response=list[OrderOut], summary="Orders")
def orders(request, session_id: int, query: Query[OrdersQuery]):
    rows = order_list(_session(session_id), status=query.status, symbol=query.symbol,
                      open_only=query.open, limit=query.limit)
    return [_order_out(o) for o in rows]


@router.get("/sessions/{int:session_id}/orders/{client_order_id}", response=OrderTraceOut,
            summary="Order trace: creation, updates, fills, timeline")
def order_trace(request, session_id: int, client_order_id: str):
    order = OrderRecord.objects.filter(session_id=session_id, client_order_id=client_order_id).first()
    if order is None:
        raise Http404("No such order in this session")
    fills = [{"fill_id": f.fill_id, "ts_ms": f.ts_ms, "liquidity": f.liquidity,
              **_decimal_fields(f, ("quantity", "price", "fee"))}
             for f in order.fills.order_by("ts_ms", "id")]
    timeline = [vars(e) for e in order_timeline(order)]
    return {"order": _order_out(order), "fills": fills, "timeline": timeline}


@router.get("/sessions/{int:session_id}/trades", response=list[TradeOut],
            summary="Closed trades (journal)")
def trades(request, session_id: int, query: Query[TradesQuery]):
    rows = trade_list(_session(session_id), symbol=query.symbol, outcome=query.outcome,
                      exit_reason=query.exit_reason, since_ms=query.since_ms,
                      until_ms=query.until_ms)
    return [_trade_out(t) for t in rows[query.offset:query.offset + query.limit]]


@router.get("/sessions/{int:session_id}/trades/{int:trade_id}", response=TradeDetailOut,
            summary="A closed trade with its full entry context (why did it trade?)")
def trade(request, session_id: int, trade_id: int):
    found = trade_get(_session(session_id), trade_id)
    if found is None:
        raise Http404("No such trade")
    return _trade_out(found, context=True)


@router.get("/sessions/{int:session_id}/decisions", response=list[DecisionOut],
            summary="Decisions, including skips, with their reasoning")
def decisions(request, session_id: int, query: Query[DecisionsQuery]):
    rows = decision_list(_session(session_id), symbol=query.symbol,
                         actions=[query.action.upper()] if query.action else None,
                         limit=query.limit)
    return [{"symbol": d.symbol, "ts_ms": d.ts_ms, "action": d.action,
             "confidence": d.confidence, "reasoning": d.reasoning,
             "details": d.details if query.details else None} for d in rows]


@router.get("/sessions/{int:session_id}/alerts", response=list[AlertOut],
            summary="Circuit breakers, rejected data, errors")
def alerts(request, session_id: int, query: Query[LimitQuery]):
    return [{f: getattr(a, f) for f in ("ts_ms", "kind", "level", "breaker", "action", "message",
                                        "value", "limit")}
            for a in alert_list(_session(session_id), limit=query.limit)]


@router.get("/sessions/{int:session_id}/equity", response=EquityOut,
            summary="Equity and drawdown at each candle close (thinned to ~2,000 points)")
def equity(request, session_id: int):
    points = equity_points(_session(session_id))
    return {"timestamps": [p.ts_ms for p in points], "equity": [float(p.equity) for p in points],
            "drawdown": [p.drawdown for p in points]}


@router.get("/sessions/{int:session_id}/performance", response=dict[str, Any],
            summary="P&L, return, win rate, profit factor, drawdown, Sharpe, outcomes")
def session_performance(request, session_id: int):
    return performance(_session(session_id))


@router.get("/sessions/{int:session_id}/agents/performance", response=list[dict[str, Any]],
            summary="Per agent: weights, tracked accuracy, the trades it backed and their P&L")
def session_agent_performance(request, session_id: int):
    return agent_performance(_session(session_id))


@router.get("/sessions/{int:session_id}/execution-quality", response=dict[str, Any],
            summary="Slippage (bps vs. the price placed at), time to fill, rejects, fees")
def session_execution_quality(request, session_id: int):
    return execution_quality(_session(session_id))
