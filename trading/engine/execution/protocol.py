"""The port every executor implements (paper simulation, ccxt live).

Guarantees of any `Executor`:
- `submit(order)` is idempotent on `client_order_id`: submitting an order whose
  id the executor already knows returns the known order and never places a
  second one; the same id with different terms raises `DuplicateClientOrderId`.
- `submit` returns the order as the venue acknowledged it (SUBMITTED, or
  REJECTED with the reason in its history); it does not raise for a business
  rejection (insufficient funds, below minimum size).
- `cancel` is idempotent too: cancelling a finished order returns it unchanged.
- Balances are per asset, `free` + `used` (reserved by working orders) = total.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from trading.engine.orders.model import Order
from trading.engine.orders.state import OrderStatus


class ExecutionError(RuntimeError):
    """The executor could not do what was asked (not a business rejection)."""


class UnknownOrder(ExecutionError):
    pass


class DuplicateClientOrderId(ExecutionError):
    """A different order reused a client order id already seen by the executor."""


@dataclass(frozen=True)
class Balance:
    asset: str
    free: Decimal
    used: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.used


@runtime_checkable
class Executor(Protocol):
    def submit(self, order: Order) -> Order: ...

    def cancel(self, client_order_id: str) -> Order: ...

    def fetch_order(self, client_order_id: str) -> Order: ...

    def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    def balances(self) -> dict[str, Balance]: ...


def same_terms(a: Order, b: Order) -> bool:
    """True when two orders ask for the same thing (a retry, not a new order).

    Limit prices are compared as first placed, so a retry still matches an
    order that was repriced at the venue since.
    """
    return _terms(a) == _terms(b)


def _terms(order: Order) -> tuple[object, ...]:
    price = order.amendments[0].old_price if order.amendments else order.limit_price
    return (
        order.client_order_id,
        order.symbol,
        order.side,
        order.type,
        order.quantity,
        price,
        order.reduce_only,
    )


def known_submission(orders: Mapping[str, Order], order: Order) -> Order | None:
    """What `submit` answers for an order whose client id is already known (the
    stored order: a retry never doubles it), or None for a new, PENDING order.

    Raises DuplicateClientOrderId when the id is taken by an order with other terms,
    and ExecutionError when a new order is not PENDING.
    """
    known = orders.get(order.client_order_id)
    if known is not None:
        if not same_terms(known, order):
            raise DuplicateClientOrderId(
                f"client order id {order.client_order_id} already used by another order"
            )
        return known
    if order.status is not OrderStatus.PENDING:
        raise ExecutionError(f"only PENDING orders can be submitted, got {order.status.value}")
    return None
