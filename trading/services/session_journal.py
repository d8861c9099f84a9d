"""The kernel's journal sink: engine events buffered, then written to the database at once.

Guarantees:
- `JournalBuffer` implements the kernel's `JournalSink`: `record` only keeps
  the event (no I/O inside the engine loop); `flush(session)` writes every
  buffered event in a few bulk statements and must run inside the step's
  transaction, together with the checkpoint, so a rolled-back step leaves no
  journal row behind.
- Every write is idempotent: rows are keyed by what the event identifies
  (client order id, fill id, candle time...) under unique constraints; orders
  and positions are upserted to their latest state, everything else is
  inserted once (`ignore_conflicts`). Replaying the events of a step that
  never committed therefore produces exactly the rows an uninterrupted run
  would have written.
- Structured log lines (logger "organism.trading") for decisions, orders and
  trades are emitted only after the transaction commits.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from trading.engine.events import (
    BreakerEvent,
    DataRejectedEvent,
    DecisionEvent,
    EngineEvent,
    FillEvent,
    OrderEvent,
    PriceEvent,
)
from trading.engine.execution.protocol import ExecutionError
from trading.engine.kernel import (
    EquityEvent,
    GridEvent,
    TradeClosedEvent,
    TradingKernel,
    TrailingEvent,
)
from trading.engine.kernel.serialization import order_to_json
from trading.models import (
    DecisionRecord,
    EquitySnapshot,
    FillRecord,
    OrderRecord,
    PositionRecord,
    SessionAlert,
    TradeRecord,
    TradingSession,
    TrailingRecord,
)

log = logging.getLogger("organism.trading")
ORDER_UPDATE_FIELDS = ["status", "filled_quantity", "limit_price", "reason", "history",
                       "exchange_order_id", "updated_ms"]
POSITION_UPDATE_FIELDS = ["quantity", "average_entry", "mark_price", "unrealized_pnl",
                          "realized_pnl", "fees", "opened_ms", "updated_ms"]
EQUITY_UPDATE_FIELDS = ["equity", "cash", "exposure", "realized_pnl", "fees", "drawdown", "state"]


def plain(value: Any) -> Any:
    """JSON-ready: Decimals as strings, NaN/inf as None, tuples as lists, mappings as dicts."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass
class StepSummary:
    """What a flushed step changed, for the live update and the metrics."""

    candles: int = 0
    orders: int = 0
    fills: int = 0
    trades: int = 0
    decisions: int = 0
    alerts: int = 0
    prices: dict[str, float] = field(default_factory=dict)
    grids: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_ts_ms: int | None = None

    @property
    def kinds(self) -> list[str]:
        names = ("orders", "fills", "trades", "decisions", "alerts", "grids")
        return [n for n in names if getattr(self, n)] + (["prices"] if self.prices else [])


class JournalBuffer:
    """Collects one step's engine events for one session (the kernel's `JournalSink`).

    With `durable_intents` (live sessions) an order is also written to the database, in
    its own autocommitted statement, the moment it is created: before the executor sends
    it. A worker killed after sending but before the step's commit leaves that row
    PENDING, and the next restore asks the exchange about it instead of re-sending.
    """

    def __init__(self, *, session_id: int | None = None, durable_intents: bool = False) -> None:
        self.kernel: TradingKernel | None = None  # set once the kernel exists
        self.session_id = session_id
        self.durable_intents = durable_intents
        self.events: list[EngineEvent] = []
        self.commits = 0
        self.last_commit_ms: int | None = None
        self._meta: dict[str, tuple[str, float]] = {}  # client id -> (purpose, reference price)

    # -- JournalSink -------------------------------------------------------------------------

    def record(self, event: EngineEvent) -> None:
        self.events.append(event)
        if isinstance(event, OrderEvent) and event.client_order_id not in self._meta:
            tracked = self.kernel.desk.tracked.get(event.client_order_id) if self.kernel else None
            if tracked is not None:
                meta = tracked.meta
                self._meta[event.client_order_id] = (meta.purpose, meta.reference_price)
                if self.durable_intents and event.status == "PENDING":
                    self._write_intent(event, tracked.order, meta.purpose, meta.reference_price)

    def _write_intent(self, event: OrderEvent, order: Any, purpose: str, reference: float) -> None:
        OrderRecord.objects.get_or_create(client_order_id=event.client_order_id, defaults={
            "session_id": self.session_id, "symbol": event.symbol, "side": event.side,
            "order_type": event.order_type, "purpose": purpose, "tag": event.tag,
            "quantity": event.quantity, "limit_price": event.limit_price,
            "reference_price": _finite(reference), "status": "PENDING", "reason": "created",
            "history": [[event.ts_ms, None, "PENDING", event.reason]],
            "intent": order_to_json(order), "created_ms": event.ts_ms, "updated_ms": event.ts_ms,
        })

    def commit(self, ts_ms: int, checkpoint: Callable[[], dict[str, Any]]) -> None:
        """A candle is done; the step writes everything (and the checkpoint) at its end."""
        self.commits += 1
        self.last_commit_ms = ts_ms

    # -- writing -----------------------------------------------------------------------------

    def flush(self, session: TradingSession) -> StepSummary:
        """Write the buffered events (call inside the step's transaction)."""
        summary = StepSummary(candles=self.commits, last_ts_ms=self.last_commit_ms)
        rows = _Rows(session)
        for event in self.events:
            rows.add(event, self._meta)
        rows.write(summary, self._exchange_ids(rows.orders))
        self._write_positions(session)
        summary.prices = {s: p for s, p in rows.prices.items() if math.isfinite(p)}
        summary.grids = rows.grids
        logs = rows.log_lines
        transaction.on_commit(lambda: _emit(session.pk, logs))
        self.events = []
        return summary

    def _exchange_ids(self, orders: Mapping[str, OrderRecord]) -> dict[str, str]:
        if self.kernel is None:
            return {}
        found: dict[str, str] = {}
        for client_id in orders:
            try:
                order = self.kernel.executor.fetch_order(client_id)
            except (ExecutionError, KeyError):
                continue
            found[client_id] = order.exchange_order_id or ""
        return found

    def _write_positions(self, session: TradingSession) -> None:
        kernel = self.kernel
        if kernel is None:
            return
        ts = kernel.clock.now_ms()
        records = []
        for symbol, state in kernel.symbols.items():
            position = kernel.portfolio.position(symbol)
            mark = _finite(state.mark)
            records.append(PositionRecord(
                session=session, symbol=symbol, quantity=position.quantity,
                average_entry=position.average_entry, mark_price=mark,
                unrealized_pnl=position.unrealized_pnl(mark) if mark is not None else 0,
                realized_pnl=position.realized_pnl, fees=position.fees,
                opened_ms=position.opened_ms, updated_ms=ts,
            ))
        PositionRecord.objects.bulk_create(
            records, update_conflicts=True, unique_fields=["session", "symbol"],
            update_fields=POSITION_UPDATE_FIELDS,
        )


class _Rows:
    """The rows one step's events become, de-duplicated per key (last state wins)."""

    def __init__(self, session: TradingSession) -> None:
        self.session = session
        self.orders: dict[str, OrderRecord] = {}
        self.fills: dict[tuple[str, str], FillRecord] = {}
        self.trades: list[TradeRecord] = []
        self.decisions: dict[tuple[str, int, str], DecisionRecord] = {}
        self.alerts: dict[str, SessionAlert] = {}
        self.equity: dict[int, EquitySnapshot] = {}
        self.trailing: dict[tuple, TrailingRecord] = {}
        self.prices: dict[str, float] = {}
        self.grids: dict[str, dict[str, Any]] = {}
        self.fill_counts: dict[str, int] = {}
        self.log_lines: list[tuple[int, str, dict[str, Any]]] = []

    def add(self, event: EngineEvent, meta: Mapping[str, tuple[str, float]]) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is None:
            handler = next((h for k, h in _HANDLERS.items() if isinstance(event, k)), None)
        if handler is not None:
            handler(self, event, meta)

    def order(self, event: OrderEvent, meta: Mapping[str, tuple[str, float]]) -> None:
        purpose, reference = meta.get(event.client_order_id, ("", None))
        previous = self.orders.get(event.client_order_id)
        history = [list(step) for step in getattr(event, "history", ())]
        self.orders[event.client_order_id] = OrderRecord(
            session=self.session, client_order_id=event.client_order_id, symbol=event.symbol,
            side=event.side, order_type=event.order_type, purpose=purpose, tag=event.tag,
            quantity=event.quantity, filled_quantity=event.filled_quantity,
            limit_price=event.limit_price, reference_price=_finite(reference),
            status=event.status, reason=event.reason[:300], history=plain(history),
            created_ms=previous.created_ms if previous else (history[0][0] if history else event.ts_ms),
            updated_ms=event.ts_ms,
        )
        level = logging.INFO if event.status in ("SUBMITTED", "FILLED", "REJECTED") else logging.DEBUG
        self.log_lines.append((level, "order", {
            "client_order_id": event.client_order_id, "symbol": event.symbol, "side": event.side,
            "status": event.status, "quantity": str(event.quantity),
            "filled": str(event.filled_quantity), "reason": event.reason, "purpose": purpose,
        }))

    def fill(self, event: FillEvent, meta: Mapping[str, tuple[str, float]]) -> None:
        count = self.fill_counts.get(event.client_order_id, 0) + 1
        self.fill_counts[event.client_order_id] = count
        fill_id = event.trade_id or f"{event.client_order_id}@{event.ts_ms}#{count}"
        self.fills[(event.client_order_id, fill_id)] = FillRecord(
            session=self.session, order_id=event.client_order_id, fill_id=fill_id,
            symbol=event.symbol, side=event.side, quantity=event.quantity, price=event.price,
            fee=event.fee, liquidity=event.liquidity, ts_ms=event.ts_ms,
        )

    def trade(self, event: TradeClosedEvent, meta: Mapping[str, tuple[str, float]]) -> None:
        self.trades.append(TradeRecord(
            session=self.session, symbol=event.symbol, direction=event.direction,
            opened_ms=event.opened_ms, closed_ms=event.closed_ms, quantity=event.quantity,
            entry_price=event.entry_price, exit_price=event.exit_price,
            realized_pnl=event.realized_pnl, fees=event.fees, net_pnl=event.net_pnl,
            net_return=event.net_return, hold_ms=event.hold_ms,
            max_adverse_excursion=event.max_adverse_excursion,
            max_favourable_excursion=event.max_favourable_excursion,
            best_exit_price=event.best_exit_price, best_exit_ms=event.best_exit_ms,
            efficiency=_finite(event.efficiency), outcome=event.outcome,
            exit_reason=event.exit_reason[:40], entry_context=plain(event.entry_context),
        ))
        self.log_lines.append((logging.INFO, "trade", {
            "symbol": event.symbol, "direction": event.direction, "opened_ms": event.opened_ms,
            "closed_ms": event.closed_ms, "net_pnl": str(event.net_pnl),
            "net_return": round(event.net_return, 6), "fees": str(event.fees),
            "outcome": event.outcome, "exit_reason": event.exit_reason,
            "confidence": event.entry_context.get("confidence"),
        }))

    def decision(self, event: DecisionEvent, meta: Mapping[str, tuple[str, float]]) -> None:
        details = _decision_details(event)
        self.decisions[(event.symbol, event.ts_ms, event.action)] = DecisionRecord(
            session=self.session, symbol=event.symbol, ts_ms=event.ts_ms, action=event.action,
            confidence=event.confidence, reasoning=event.reasoning, details=details,
        )
        consensus = (details.get("vote") or {}).get("consensus") or {}
        self.log_lines.append((logging.DEBUG if event.action == "SKIP" else logging.INFO,
                               "decision", {
            "symbol": event.symbol, "ts_ms": event.ts_ms, "action": event.action,
            "confidence": round(event.confidence, 4), "reasoning": event.reasoning,
            "consensus": consensus.get("action"),
        }))

    def breaker(self, event: BreakerEvent, meta: Mapping[str, tuple[str, float]]) -> None:
        key = f"breaker:{event.breaker}:{event.action}:{event.ts_ms}"
        level = SessionAlert.Level.INFO if event.action == "RESUME" else SessionAlert.Level.ERROR
        if event.action == "PAUSE":
            level = SessionAlert.Level.WARNING
        self.alerts[key] = SessionAlert(
            session=self.session, key=key, ts_ms=event.ts_ms, kind=SessionAlert.Kind.BREAKER,
            level=level, breaker=event.breaker, action=event.action, message=event.reason,
            value=_finite(event.value), limit=_finite(event.limit),
        )

    def rejected(self, event: DataRejectedEvent, meta: Mapping[str, tuple[str, float]]) -> None:
        key = f"data:{event.symbol}:{event.kind}:{event.ts_ms}:{event.consecutive}"
        self.alerts[key] = SessionAlert(
            session=self.session, key=key, ts_ms=event.ts_ms, kind=SessionAlert.Kind.DATA,
            level=SessionAlert.Level.WARNING, action="PAUSE" if event.pause else "REJECT",
            message=f"{event.symbol} {event.kind} rejected: {event.reason}",
            value=float(event.consecutive),
        )

    def price(self, event: PriceEvent, meta: Mapping[str, tuple[str, float]]) -> None:
        self.prices[event.symbol] = event.price

    def grid(self, event: GridEvent, meta: Mapping[str, tuple[str, float]]) -> None:
        """The grid's latest levels and orders (kept on the session for the dashboard)."""
        self.grids[event.symbol] = plain({
            "ts_ms": event.ts_ms, "generation": event.generation, "reason": event.reason,
            "center": event.center, "spacing": event.spacing,
            "levels": [list(level) for level in event.levels], "active": list(event.active),
            "working": [list(order) for order in event.working],
            "inventory": event.inventory, "budget": event.budget,
            "buys_blocked": event.buys_blocked,
        })
        if event.reason == "stopped":
            key = f"grid:{event.symbol}:stopped:{event.ts_ms}"
            self.alerts[key] = SessionAlert(
                session=self.session, key=key, ts_ms=event.ts_ms, kind=SessionAlert.Kind.BREAKER,
                level=SessionAlert.Level.WARNING, breaker="grid_stop", action="STOP",
                message=f"{event.symbol} grid stopped: inventory sold, resting before a rebuild")

    def equity_mark(self, event: EquityEvent, meta: Mapping[str, tuple[str, float]]) -> None:
        self.equity[event.ts_ms] = EquitySnapshot(
            session=self.session, ts_ms=event.ts_ms, equity=event.equity, cash=event.cash,
            exposure=event.exposure, realized_pnl=event.realized_pnl, fees=event.fees,
            drawdown=_finite(event.drawdown) or 0.0, state=event.state,
        )

    def trailing_order(self, event: TrailingEvent, meta: Mapping[str, tuple[str, float]]) -> None:
        key = (event.symbol, event.ts_ms, event.purpose, event.status)
        self.trailing[key] = TrailingRecord(
            session=self.session, symbol=event.symbol, ts_ms=event.ts_ms, side=event.side,
            status=event.status, purpose=event.purpose, quantity=event.quantity,
            trail=event.trail, best_price=_finite(event.best_price),
            trigger_price=_finite(event.trigger_price),
        )

    def write(self, summary: StepSummary, exchange_ids: Mapping[str, str]) -> None:
        for client_id, record in self.orders.items():
            record.exchange_order_id = exchange_ids.get(client_id, "")[:100]
        if self.orders:
            OrderRecord.objects.bulk_create(
                list(self.orders.values()), update_conflicts=True,
                unique_fields=["client_order_id"], update_fields=ORDER_UPDATE_FIELDS,
            )
        ignore = {"ignore_conflicts": True}
        FillRecord.objects.bulk_create(list(self.fills.values()), **ignore)
        TradeRecord.objects.bulk_create(self.trades, **ignore)
        DecisionRecord.objects.bulk_create(list(self.decisions.values()), **ignore)
        SessionAlert.objects.bulk_create(list(self.alerts.values()), **ignore)
        TrailingRecord.objects.bulk_create(list(self.trailing.values()), **ignore)
        if self.equity:
            EquitySnapshot.objects.bulk_create(
                list(self.equity.values()), update_conflicts=True,
                unique_fields=["session", "ts_ms"], update_fields=EQUITY_UPDATE_FIELDS,
            )
        summary.orders, summary.fills, summary.trades = (
            len(self.orders), len(self.fills), len(self.trades))
        summary.decisions, summary.alerts = len(self.decisions), len(self.alerts)


def _decision_details(event: DecisionEvent) -> dict[str, Any]:
    """The decision and the vote; for a skip, each signal without its indicator values
    (a skip is journaled every candle: the indicators behind a trade are kept in full, in
    the decision that traded and in the trade's entry context)."""
    if not event.details:
        return {}
    details = dict(event.details)
    vote = details.get("vote")
    if event.action == "SKIP" and isinstance(vote, Mapping):
        signals = [{k: v for k, v in signal.items() if k != "details"}
                   for signal in vote.get("signals", ())]
        details["vote"] = {k: v for k, v in vote.items() if k != "elapsed_s"} | {
            "signals": signals}
    return plain(details)


_HANDLERS: dict[type, Callable[[_Rows, Any, Mapping[str, tuple[str, float]]], None]] = {
    GridEvent: _Rows.grid,
    TrailingEvent: _Rows.trailing_order,
    EquityEvent: _Rows.equity_mark,
    TradeClosedEvent: _Rows.trade,
    OrderEvent: _Rows.order,
    FillEvent: _Rows.fill,
    DecisionEvent: _Rows.decision,
    BreakerEvent: _Rows.breaker,
    DataRejectedEvent: _Rows.rejected,
    PriceEvent: _Rows.price,
}


def _emit(session_id: int, lines: list[tuple[int, str, dict[str, Any]]]) -> None:
    for level, kind, fields in lines:
        if log.isEnabledFor(level):
            log.log(level, "%s %s", kind, " ".join(f"{k}={v}" for k, v in fields.items()),
                    extra={"session_id": session_id, "event": kind, **fields})
