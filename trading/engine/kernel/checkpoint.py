"""Kernel checkpoints: everything a killed worker needs to resume a session exactly.

Guarantees:
- `kernel_checkpoint(kernel)` is JSON-serialisable and holds the portfolio,
  the executor's balances, every order the kernel still tracks (with how much
  of its history and fills was already published and booked), each symbol's
  pending placement, trailing order, entry in flight and open trade (plan,
  price extremes, take-profit ids, entry context), the risk guard's state and
  active trips, the feed guard's references, the orchestrators' weights and
  hit rates, the order-id sequence, the last processed candle per symbol and
  the kernel's own flags (data pause, wind-down, first entry, track record),
  and with a grid its books (levels, lots, working orders, id sequences).
- `apply_checkpoint` puts all of it back into a freshly built kernel whose
  agents were warmed up on the bars up to the checkpoint; from there the
  resumed kernel produces the events and state an uninterrupted one would.
  Client order ids are deterministic, so an order re-sent after a crash is
  recognised by the executor, and its fills are booked exactly once.
- `checkpoint_balances` / `checkpoint_orders` rebuild a simulated executor's
  account after a restart (`PaperExecutor(balances=...)` then `.resume(...)`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trading.engine.kernel.desk import OrderMeta, TrackedOrder
from trading.engine.kernel.serialization import (
    order_from_json,
    order_to_json,
    plan_from_json,
    plan_to_json,
    portfolio_from_json,
    portfolio_to_json,
    risk_from_json,
    risk_to_json,
    trailing_from_json,
    trailing_to_json,
)
from trading.engine.kernel.state import EntryPlan, OpenTrade, PendingOrder, SymbolState
from trading.engine.kernel.track_record import TrackRecord
from trading.engine.orders.model import Order, OrderSide
from trading.engine.orders.trailing import TrailingOrder
from trading.engine.portfolio import Portfolio
from trading.engine.risk import RiskGuard

if TYPE_CHECKING:
    from trading.engine.kernel.kernel import TradingKernel

VERSION = 1
Json = dict[str, Any]


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def kernel_checkpoint(kernel: TradingKernel) -> Json:
    ts = kernel.clock.now_ms()
    return {
        "version": VERSION,
        "session_id": kernel.config.session_id,
        "clock_ms": ts,
        "portfolio": portfolio_to_json(kernel.portfolio.snapshot()),
        "balances": {a: str(b.total) for a, b in kernel.executor.balances().items()},
        "orders": [
            {
                "order": order_to_json(t.order),
                "meta": [t.meta.purpose, t.meta.reason, t.meta.reference_price],
                "published": t.published,
                "booked": t.booked,
            }
            for t in kernel.desk.tracked.values()
        ],
        "risk": risk_to_json(kernel.guard.snapshot(ts)),
        "feed_guard": kernel.feed_guard.snapshot(),
        "ids": kernel.ids.snapshot(),
        "orchestrators": {s: o.orchestrator.export_state() for s, o in kernel.symbols.items()},
        "symbols": {s: _symbol_to_json(o) for s, o in kernel.symbols.items()},
        "kernel": {
            "data_paused": kernel.data_paused,
            "good_streak": kernel.good_streak,
            "winding_down": kernel.winding_down,
            "first_entry_done": kernel.first_entry_done,
            "record": kernel.record.as_dict(),
            "equity": str(kernel.equity_mark),
            "exposure": str(kernel.exposure_mark),
        },
    } | ({} if kernel.grid is None else {"grid": kernel.grid.snapshot()})


def _symbol_to_json(sym: SymbolState) -> Json:
    pending, trailing, entry, trade = sym.pending, sym.trailing, sym.entry, sym.trade
    return {
        "last_candle_ms": sym.last_candle_ms,
        "session_start_price": sym.session_start_price,
        "mark": _number(sym.mark),
        "candle_driven": sym.candle_driven,
        "pending": None if pending is None else {
            "side": pending.side.value, "purpose": pending.purpose,
            "quantity": str(pending.quantity), "reason": pending.reason,
            "decided_ms": pending.decided_ms,
        },
        "trailing": None if trailing is None else {
            "state": trailing_to_json(trailing.snapshot()), "purpose": sym.trailing_purpose,
        },
        "entry": None if entry is None else {
            "quantity": str(entry.quantity), "plan": plan_to_json(entry.plan),
            "context": entry.context, "decided_ms": entry.decided_ms,
        },
        "entry_order": sym.entry_order,
        "trade": None if trade is None else _trade_to_json(trade),
    }


def _trade_to_json(trade: OpenTrade) -> Json:
    return {
        "symbol": trade.symbol, "opened_ms": trade.opened_ms, "entry_price": trade.entry_price,
        "initial_quantity": str(trade.initial_quantity), "plan": plan_to_json(trade.plan),
        "context": trade.context, "high": trade.high, "high_ms": trade.high_ms,
        "low": trade.low, "take_profits": list(trade.take_profits),
        "exit_order": trade.exit_order, "exit_reason": trade.exit_reason,
        "entry_order": trade.entry_order, "exit_retry_ms": trade.exit_retry_ms,
    }


def apply_checkpoint(kernel: TradingKernel, checkpoint: Mapping[str, Any]) -> None:
    """Load `checkpoint` into `kernel` (built from the same config, agents warmed up)."""
    if checkpoint["version"] != VERSION:
        raise ValueError(f"unsupported checkpoint version {checkpoint['version']}")
    if checkpoint["session_id"] != kernel.config.session_id:
        raise ValueError("the checkpoint belongs to another session")
    portfolio = Portfolio.restore(portfolio_from_json(checkpoint["portfolio"]))
    guard = RiskGuard(kernel.config.limits, risk_from_json(checkpoint["risk"]))
    kernel.portfolio = kernel.desk.portfolio = portfolio
    kernel.guard = kernel.desk.guard = guard
    kernel.feed_guard.restore(checkpoint["feed_guard"])
    kernel.ids.restore(checkpoint["ids"])
    for symbol, state in checkpoint["orchestrators"].items():
        kernel.symbols[symbol].orchestrator.restore_state(state)
    for symbol, state in checkpoint["symbols"].items():
        _restore_symbol(kernel.symbols[symbol], state)
    for item in checkpoint["orders"]:
        order = order_from_json(item["order"])
        purpose, reason, reference = item["meta"]
        tracked = TrackedOrder(
            order, OrderMeta(purpose, reason, reference), item["published"], item["booked"]
        )
        kernel.desk.tracked[order.client_order_id] = tracked
    flags = checkpoint["kernel"]
    kernel.data_paused = flags["data_paused"]
    kernel.good_streak = flags["good_streak"]
    kernel.winding_down = flags["winding_down"]
    kernel.first_entry_done = flags["first_entry_done"]
    kernel.record = TrackRecord(flags["record"])
    kernel.equity_mark = Decimal(flags["equity"])
    kernel.exposure_mark = Decimal(flags["exposure"])
    if kernel.grid is not None:
        if "grid" not in checkpoint:
            raise ValueError("the session runs a grid but the checkpoint holds none")
        kernel.grid.restore(checkpoint["grid"])


def _restore_symbol(sym: SymbolState, state: Json) -> None:
    sym.session_start_price = state["session_start_price"]
    sym.mark = math.nan if state["mark"] is None else state["mark"]
    sym.candle_driven = state["candle_driven"]
    pending = state["pending"]
    sym.pending = None if pending is None else PendingOrder(
        OrderSide(pending["side"]), pending["purpose"], Decimal(pending["quantity"]),
        pending["reason"], pending["decided_ms"],
    )
    trailing = state["trailing"]
    sym.trailing = None if trailing is None else TrailingOrder.restore(
        trailing_from_json(trailing["state"])
    )
    sym.trailing_purpose = "" if trailing is None else trailing["purpose"]
    entry = state["entry"]
    sym.entry = None if entry is None else EntryPlan(
        Decimal(entry["quantity"]), plan_from_json(entry["plan"]), entry["context"],
        entry["decided_ms"],
    )
    sym.entry_order = state["entry_order"]
    trade = state["trade"]
    sym.trade = None if trade is None else OpenTrade(
        **(trade | {
            "initial_quantity": Decimal(trade["initial_quantity"]),
            "plan": plan_from_json(trade["plan"]),
            "take_profits": list(trade["take_profits"]),
        })
    )
    if sym.last_candle_ms is None:
        sym.last_candle_ms = state["last_candle_ms"]
    elif state["last_candle_ms"] != sym.last_candle_ms:
        raise ValueError(
            f"{sym.symbol}: the warm-up history ends at {sym.last_candle_ms}, "
            f"the checkpoint at {state['last_candle_ms']}"
        )


def checkpoint_balances(checkpoint: Json) -> dict[str, Decimal]:
    """The account's asset totals at the checkpoint."""
    return {asset: Decimal(total) for asset, total in checkpoint["balances"].items()}


def checkpoint_orders(checkpoint: Json) -> list[Order]:
    """The orders the kernel was tracking (working ones) at the checkpoint."""
    return [order_from_json(item["order"]) for item in checkpoint["orders"]]
