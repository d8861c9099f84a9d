"""JSON forms of the engine records a checkpoint holds, and their exact inverses.

Guarantees: every `*_to_json` returns only str, int, float, bool, None, lists
and dicts (Decimals as strings, enums by value), and the matching
`*_from_json` rebuilds an equal record: orders with their status history,
fills and amendments; portfolio states; risk states with their active trips;
trailing-order states; exit plans.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trading.engine.decision import ExitPlan
from trading.engine.orders.model import Amendment, Fill, Liquidity, Order, OrderSide, OrderType
from trading.engine.orders.state import OrderStatus, Transition
from trading.engine.orders.trailing import TrailingState, TrailingStatus
from trading.engine.portfolio import PortfolioState, Position
from trading.engine.risk import BreakerAction, RiskState, Trip
from trading.engine.risk_profiles import TakeProfitTier

Json = dict[str, Any]


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _undec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def fill_to_json(fill: Fill) -> Json:
    return {
        "client_order_id": fill.client_order_id, "symbol": fill.symbol, "side": fill.side.value,
        "quantity": str(fill.quantity), "price": str(fill.price), "fee": str(fill.fee),
        "ts_ms": fill.ts_ms, "liquidity": fill.liquidity.value, "trade_id": fill.trade_id,
    }


def fill_from_json(data: Json) -> Fill:
    return Fill(
        data["client_order_id"], data["symbol"], OrderSide(data["side"]),
        Decimal(data["quantity"]), Decimal(data["price"]), Decimal(data["fee"]), data["ts_ms"],
        Liquidity(data["liquidity"]), data["trade_id"],
    )


def order_to_json(order: Order) -> Json:
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "quantity": str(order.quantity),
        "created_ms": order.created_ms,
        "limit_price": _dec(order.limit_price),
        "expires_ms": order.expires_ms,
        "reduce_only": order.reduce_only,
        "tag": order.tag,
        "status": order.status.value,
        "filled_quantity": str(order.filled_quantity),
        "history": [
            [t.ts_ms, None if t.source is None else t.source.value, t.target.value, t.reason]
            for t in order.history
        ],
        "fills": [fill_to_json(f) for f in order.fills],
        "amendments": [
            [a.ts_ms, str(a.old_price), str(a.new_price), a.reason] for a in order.amendments
        ],
        "exchange_order_id": order.exchange_order_id,
    }


def order_from_json(data: Json) -> Order:
    return Order(
        client_order_id=data["client_order_id"],
        symbol=data["symbol"],
        side=OrderSide(data["side"]),
        type=OrderType(data["type"]),
        quantity=Decimal(data["quantity"]),
        created_ms=data["created_ms"],
        limit_price=_undec(data["limit_price"]),
        expires_ms=data["expires_ms"],
        reduce_only=data["reduce_only"],
        tag=data["tag"],
        status=OrderStatus(data["status"]),
        filled_quantity=Decimal(data["filled_quantity"]),
        history=tuple(
            Transition(ts, None if src is None else OrderStatus(src), OrderStatus(dst), why)
            for ts, src, dst, why in data["history"]
        ),
        fills=tuple(fill_from_json(f) for f in data["fills"]),
        amendments=tuple(
            Amendment(ts, Decimal(old), Decimal(new), why)
            for ts, old, new, why in data["amendments"]
        ),
        exchange_order_id=data["exchange_order_id"],
    )


_POSITION_DECIMALS = (
    "quantity", "cost_basis", "realized_pnl", "fees", "entry_quantity", "entry_value",
    "exit_quantity", "exit_value",
)


def portfolio_to_json(state: PortfolioState) -> Json:
    return {
        "quote": state.quote,
        "initial_cash": str(state.initial_cash),
        "cash": str(state.cash),
        "realized_pnl": str(state.realized_pnl),
        "fees": str(state.fees),
        "positions": [
            {"symbol": p.symbol, "opened_ms": p.opened_ms}
            | {name: str(getattr(p, name)) for name in _POSITION_DECIMALS}
            for p in state.positions
        ],
    }


def portfolio_from_json(data: Json) -> PortfolioState:
    positions = tuple(
        Position(
            symbol=p["symbol"],
            opened_ms=p["opened_ms"],
            **{name: Decimal(p[name]) for name in _POSITION_DECIMALS},
        )
        for p in data["positions"]
    )
    return PortfolioState(
        data["quote"], Decimal(data["initial_cash"]), Decimal(data["cash"]),
        Decimal(data["realized_pnl"]), Decimal(data["fees"]), positions,
    )


def risk_to_json(state: RiskState) -> Json:
    return {
        "peak_equity": _dec(state.peak_equity),
        "last_equity": _dec(state.last_equity),
        "day_open_equity": _dec(state.day_open_equity),
        "day": state.day,
        "trades_today": state.trades_today,
        "consecutive_losses": state.consecutive_losses,
        "active_trips": [
            {
                "breaker": t.breaker, "action": t.action.value, "reason": t.reason,
                "ts_ms": t.ts_ms, "value": t.value, "limit": t.limit,
                "resume_at_ms": t.resume_at_ms,
            }
            for t in state.active_trips
        ],
    }


def risk_from_json(data: Json) -> RiskState:
    trips = tuple(
        Trip(
            t["breaker"], BreakerAction(t["action"]), t["reason"], t["ts_ms"], t["value"],
            t["limit"], t["resume_at_ms"],
        )
        for t in data["active_trips"]
    )
    return RiskState(
        _undec(data["peak_equity"]), _undec(data["last_equity"]), _undec(data["day_open_equity"]),
        data["day"], data["trades_today"], data["consecutive_losses"], trips,
    )


def trailing_to_json(state: TrailingState) -> Json:
    return {
        "side": state.side.value, "quantity": str(state.quantity), "trail": state.trail,
        "created_ms": state.created_ms, "status": state.status.value,
        "best_price": state.best_price, "expires_ms": state.expires_ms,
        "activation_price": state.activation_price, "min_improvement": state.min_improvement,
        "improvements": state.improvements, "updated_ms": state.updated_ms, "tag": state.tag,
    }


def trailing_from_json(data: Json) -> TrailingState:
    values = dict(data)
    values["side"] = OrderSide(data["side"])
    values["quantity"] = Decimal(data["quantity"])
    values["status"] = TrailingStatus(data["status"])
    return TrailingState(**values)


def plan_to_json(plan: ExitPlan | None) -> Json | None:
    return None if plan is None else plan.as_dict()


def plan_from_json(data: Json | None) -> ExitPlan | None:
    if data is None:
        return None
    return ExitPlan(
        stop_loss=data["stop_loss"],
        take_profits=tuple(
            TakeProfitTier(t["gain"], t["fraction"], t["label"]) for t in data["take_profits"]
        ),
        time_stop_ms=data["time_stop_ms"],
        trailing_stop=data["trailing_stop"],
    )
