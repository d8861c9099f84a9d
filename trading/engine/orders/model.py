"""Immutable order and fill records.

Guarantees:
- An `Order` is frozen; every operation (`submit`, `fill`, `cancel`, `reject`,
  `expire`, `reprice`) returns a new `Order` or raises an `OrderError` subclass
  and leaves the original untouched.
- Status changes go through `orders.state.TRANSITIONS` only, and each is
  appended to `history` with its timestamp; timestamps never go backwards.
- `filled_quantity` is the sum of `fills` and never exceeds `quantity`; status
  is FILLED exactly when the two are equal, PARTIAL exactly when 0 < filled < quantity.
- Quantities, prices and fees are `Decimal`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from trading.engine.money import ZERO, Number, to_decimal
from trading.engine.orders.state import (
    OrderError,
    OrderStatus,
    OverfillError,
    Transition,
    check_transition,
)


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for BUY (position grows), -1 for SELL."""
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class Liquidity(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"


@dataclass(frozen=True)
class Fill:
    """One execution of (part of) an order. `fee` is in the quote currency."""

    client_order_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    ts_ms: int
    liquidity: Liquidity = Liquidity.TAKER
    trade_id: str = ""

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise OrderError(f"fill quantity must be positive, got {self.quantity}")
        if self.price <= 0:
            raise OrderError(f"fill price must be positive, got {self.price}")
        if not self.fee.is_finite():
            raise OrderError("fill fee must be finite")

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price


@dataclass(frozen=True)
class Amendment:
    """A limit-price change on a live order (order improvement)."""

    ts_ms: int
    old_price: Decimal
    new_price: Decimal
    reason: str = ""


@dataclass(frozen=True)
class Order:
    """An order and everything that happened to it. Build one with `Order.create`."""

    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    created_ms: int
    limit_price: Decimal | None = None
    expires_ms: int | None = None
    reduce_only: bool = False
    tag: str = ""
    status: OrderStatus = OrderStatus.PENDING
    filled_quantity: Decimal = ZERO
    history: tuple[Transition, ...] = ()
    fills: tuple[Fill, ...] = ()
    amendments: tuple[Amendment, ...] = ()
    exchange_order_id: str | None = None

    def __post_init__(self) -> None:
        if not self.client_order_id:
            raise OrderError("an order needs a client_order_id")
        if self.quantity <= 0:
            raise OrderError(f"order {self.client_order_id}: quantity must be positive")
        if self.type is OrderType.LIMIT and (self.limit_price is None or self.limit_price <= 0):
            raise OrderError(f"order {self.client_order_id}: a LIMIT order needs a positive price")
        if self.type is OrderType.MARKET and self.limit_price is not None:
            raise OrderError(f"order {self.client_order_id}: a MARKET order takes no price")
        if self.expires_ms is not None and self.expires_ms <= self.created_ms:
            raise OrderError(f"order {self.client_order_id}: expiry must be after creation")

    @classmethod
    def create(
        cls,
        *,
        client_order_id: str,
        symbol: str,
        side: OrderSide,
        quantity: Number,
        created_ms: int,
        limit_price: Number | None = None,
        expires_ms: int | None = None,
        reduce_only: bool = False,
        tag: str = "",
    ) -> Order:
        """A PENDING order; LIMIT when `limit_price` is given, else MARKET."""
        price = None if limit_price is None else to_decimal(limit_price)
        return cls(
            client_order_id=client_order_id,
            symbol=symbol,
            side=side,
            type=OrderType.MARKET if price is None else OrderType.LIMIT,
            quantity=to_decimal(quantity),
            created_ms=created_ms,
            limit_price=price,
            expires_ms=expires_ms,
            reduce_only=reduce_only,
            tag=tag,
            history=(Transition(created_ms, None, OrderStatus.PENDING, "created"),),
        )

    # -- derived values ----------------------------------------------------------------------

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def fees(self) -> Decimal:
        return sum((f.fee for f in self.fills), ZERO)

    @property
    def average_fill_price(self) -> Decimal | None:
        if not self.fills:
            return None
        return sum((f.notional for f in self.fills), ZERO) / self.filled_quantity

    @property
    def updated_ms(self) -> int:
        """Time of the last thing that happened to the order."""
        times = [self.history[-1].ts_ms] if self.history else [self.created_ms]
        if self.fills:
            times.append(self.fills[-1].ts_ms)
        if self.amendments:
            times.append(self.amendments[-1].ts_ms)
        return max(times)

    def is_expired_at(self, ts_ms: int) -> bool:
        return self.expires_ms is not None and ts_ms >= self.expires_ms

    # -- lifecycle ---------------------------------------------------------------------------

    def submit(self, ts_ms: int, *, exchange_order_id: str | None = None) -> Order:
        """PENDING -> SUBMITTED: the venue acknowledged the order."""
        moved = self._moved(OrderStatus.SUBMITTED, ts_ms, "submitted")
        return (
            moved
            if exchange_order_id is None
            else replace(moved, exchange_order_id=exchange_order_id)
        )

    def cancel(self, ts_ms: int, reason: str = "cancelled") -> Order:
        return self._moved(OrderStatus.CANCELLED, ts_ms, reason)

    def reject(self, ts_ms: int, reason: str) -> Order:
        return self._moved(OrderStatus.REJECTED, ts_ms, reason)

    def expire(self, ts_ms: int, reason: str = "expired") -> Order:
        """Time constraint reached; refused for an order without expiry or before it."""
        if not self.is_expired_at(ts_ms):
            raise OrderError(
                f"order {self.client_order_id}: cannot expire at {ts_ms}, "
                f"expiry is {self.expires_ms}"
            )
        return self._moved(OrderStatus.EXPIRED, ts_ms, reason)

    def fill(self, fill: Fill) -> Order:
        """Book `fill`; the order becomes PARTIAL or FILLED."""
        self._check_fill(fill)
        filled = self.filled_quantity + fill.quantity
        target = OrderStatus.FILLED if filled == self.quantity else OrderStatus.PARTIAL
        history = self.history
        if target is not self.status:
            check_transition(self.client_order_id, self.status, target)
            history = (*history, Transition(fill.ts_ms, self.status, target, "fill"))
        return replace(
            self, status=target, filled_quantity=filled, history=history, fills=(*self.fills, fill)
        )

    def reprice(self, new_price: Number, ts_ms: int, reason: str = "improved") -> Order:
        """Move a live LIMIT order's price (order improvement); history of prices is kept."""
        if self.type is not OrderType.LIMIT or self.limit_price is None:
            raise OrderError(f"order {self.client_order_id}: only LIMIT orders can be repriced")
        if self.status.is_terminal:
            raise OrderError(
                f"order {self.client_order_id}: cannot reprice a {self.status.value} order"
            )
        self._check_time(ts_ms)
        price = to_decimal(new_price)
        if price <= 0:
            raise OrderError(f"order {self.client_order_id}: price must be positive")
        amendment = Amendment(ts_ms, self.limit_price, price, reason)
        return replace(self, limit_price=price, amendments=(*self.amendments, amendment))

    # -- checks ------------------------------------------------------------------------------

    def _moved(self, target: OrderStatus, ts_ms: int, reason: str) -> Order:
        check_transition(self.client_order_id, self.status, target)
        self._check_time(ts_ms)
        step = Transition(ts_ms, self.status, target, reason)
        return replace(self, status=target, history=(*self.history, step))

    def _check_time(self, ts_ms: int) -> None:
        if ts_ms < self.updated_ms:
            raise OrderError(
                f"order {self.client_order_id}: time {ts_ms} is before its last update "
                f"{self.updated_ms}"
            )

    def _check_fill(self, fill: Fill) -> None:
        if not self.status.is_working:
            raise OrderError(
                f"order {self.client_order_id}: cannot fill a {self.status.value} order"
            )
        if (fill.client_order_id, fill.symbol, fill.side) != (
            self.client_order_id,
            self.symbol,
            self.side,
        ):
            raise OrderError(f"order {self.client_order_id}: fill belongs to another order")
        if fill.quantity > self.remaining_quantity:
            raise OverfillError(
                f"order {self.client_order_id}: fill of {fill.quantity} exceeds the remaining "
                f"{self.remaining_quantity}"
            )
        self._check_time(fill.ts_ms)
