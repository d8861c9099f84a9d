"""The order lifecycle: statuses, the legal transitions between them, and their record.

Guarantees: `TRANSITIONS` is the only source of truth for which status may
follow which; `check_transition` raises `IllegalTransition` (naming the order,
both statuses and what would have been allowed) for anything else. Terminal
statuses (FILLED, CANCELLED, REJECTED, EXPIRED) have no way out.

    PENDING --> SUBMITTED --> PARTIAL --> FILLED
       |            |            |
       |            +--> FILLED  +--> CANCELLED / EXPIRED
       |            +--> CANCELLED / REJECTED / EXPIRED
       +--> CANCELLED / REJECTED   (withdrawn, or refused before it was sent)

A PARTIAL order that receives another partial fill stays PARTIAL: that is a
fill, not a status change, so it is recorded in the order's fills only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    SUBMITTED = "SUBMITTED"
    PARTIAL = "PARTIAL"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return not TRANSITIONS[self]

    @property
    def is_working(self) -> bool:
        """Live at the venue: can still fill (SUBMITTED or PARTIAL)."""
        return self in (OrderStatus.SUBMITTED, OrderStatus.PARTIAL)


TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(
        {OrderStatus.SUBMITTED, OrderStatus.CANCELLED, OrderStatus.REJECTED}
    ),
    OrderStatus.SUBMITTED: frozenset(
        {
            OrderStatus.PARTIAL,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PARTIAL: frozenset(
        {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


class OrderError(ValueError):
    """An operation on an order was refused; the order is unchanged."""


class IllegalTransition(OrderError):
    """The requested status change is not in `TRANSITIONS`."""

    def __init__(self, client_order_id: str, source: OrderStatus, target: OrderStatus):
        self.client_order_id = client_order_id
        self.source = source
        self.target = target
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[source])) or "nothing (terminal)"
        super().__init__(
            f"order {client_order_id}: illegal transition {source.value} -> {target.value}; "
            f"from {source.value} only {allowed} is allowed"
        )


class OverfillError(OrderError):
    """A fill would take the filled quantity above the order quantity."""


def can_transition(source: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[source]


def check_transition(client_order_id: str, source: OrderStatus, target: OrderStatus) -> None:
    if not can_transition(source, target):
        raise IllegalTransition(client_order_id, source, target)


@dataclass(frozen=True)
class Transition:
    """One status change, stamped with the engine clock. `source` is None at creation."""

    ts_ms: int
    source: OrderStatus | None
    target: OrderStatus
    reason: str = ""
