"""Emergency stop: halt the session, cancel working orders, flatten every position.

Guarantees:
- The guard is HALTED first, so nothing new is approved while flattening.
- Every working order is cancelled except earlier flatten orders, which keep
  working; positions are flattened only for the quantity those do not already
  cover. Running the stop twice (a retry, a resumed worker) therefore never
  closes a position twice or flips it.
- Flatten orders are reduce-only MARKET orders tagged "flatten" with
  deterministic client order ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from trading.engine.events import BreakerEvent
from trading.engine.execution.protocol import Executor
from trading.engine.money import ZERO
from trading.engine.orders.ids import ClientOrderIds
from trading.engine.orders.model import Order, OrderSide
from trading.engine.portfolio import Portfolio
from trading.engine.risk.guard import RiskGuard

FLATTEN_TAG = "flatten"


@dataclass(frozen=True)
class EmergencyStopReport:
    event: BreakerEvent | None  # None when the session was already halted
    cancelled: tuple[Order, ...]
    flatten_orders: tuple[Order, ...]


def emergency_stop(
    *,
    guard: RiskGuard,
    portfolio: Portfolio,
    executor: Executor,
    ids: ClientOrderIds,
    reason: str,
    ts_ms: int,
) -> EmergencyStopReport:
    event = guard.emergency_stop(reason, ts_ms)
    cancelled = tuple(
        executor.cancel(order.client_order_id)
        for order in executor.open_orders()
        if order.tag != FLATTEN_TAG
    )
    flatten = []
    for position in portfolio.open_positions:
        side = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
        covered = sum(
            (
                o.remaining_quantity
                for o in executor.open_orders(position.symbol)
                if o.tag == FLATTEN_TAG and o.side is side
            ),
            ZERO,
        )
        quantity = abs(position.quantity) - covered
        if quantity <= 0:
            continue
        order = Order.create(
            client_order_id=ids.next(position.symbol, ts_ms, FLATTEN_TAG),
            symbol=position.symbol,
            side=side,
            quantity=quantity,
            created_ms=ts_ms,
            reduce_only=True,
            tag=FLATTEN_TAG,
        )
        flatten.append(executor.submit(order))
    return EmergencyStopReport(event, cancelled, tuple(flatten))
