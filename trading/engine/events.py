"""What the engine tells the world, and the in-process bus that carries it.

Guarantees:
- Every event is a frozen dataclass stamped with `ts_ms` from the engine clock;
  events carry plain values (str, int, float, Decimal, tuples, mappings), so an
  adapter (journal, websocket, metrics) can serialise them without engine imports.
- `EventBus.publish` delivers synchronously, in subscription order, to every
  handler subscribed to the event's class or one of its base classes
  (`EngineEvent` receives everything). A failing handler never starves the
  others: all are called, then `EventDeliveryError` is raised listing the
  failures, so the caller knows an adapter (e.g. the journal) missed an event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from trading.engine.orders.model import Fill, Order


@dataclass(frozen=True)
class EngineEvent:
    ts_ms: int


@dataclass(frozen=True)
class OrderEvent(EngineEvent):
    """An order changed status (created, submitted, partially filled, cancelled...)."""

    client_order_id: str
    symbol: str
    side: str
    order_type: str
    status: str
    previous_status: str | None
    reason: str
    quantity: Decimal
    filled_quantity: Decimal
    limit_price: Decimal | None = None
    tag: str = ""

    @classmethod
    def from_order(cls, order: Order) -> OrderEvent:
        """The event for the order's latest status change."""
        last = order.history[-1]
        return cls(
            ts_ms=last.ts_ms,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side.value,
            order_type=order.type.value,
            status=order.status.value,
            previous_status=None if last.source is None else last.source.value,
            reason=last.reason,
            quantity=order.quantity,
            filled_quantity=order.filled_quantity,
            limit_price=order.limit_price,
            tag=order.tag,
        )


@dataclass(frozen=True)
class FillEvent(EngineEvent):
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    liquidity: str
    trade_id: str = ""

    @classmethod
    def from_fill(cls, fill: Fill) -> FillEvent:
        return cls(
            ts_ms=fill.ts_ms,
            client_order_id=fill.client_order_id,
            symbol=fill.symbol,
            side=fill.side.value,
            quantity=fill.quantity,
            price=fill.price,
            fee=fill.fee,
            liquidity=fill.liquidity.value,
            trade_id=fill.trade_id,
        )


@dataclass(frozen=True)
class BreakerEvent(EngineEvent):
    """A circuit breaker tripped (or was reset). `action` is PAUSE, HALT or RESUME."""

    breaker: str
    action: str
    reason: str
    value: float | None = None
    limit: float | None = None
    resume_at_ms: int | None = None


@dataclass(frozen=True)
class DecisionEvent(EngineEvent):
    """A decision, including a decision not to trade, with its reasoning."""

    symbol: str
    action: str
    confidence: float
    reasoning: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataRejectedEvent(EngineEvent):
    """A feed input was refused; `pause` says the feed has stayed bad for too long."""

    symbol: str
    kind: str  # "tick" or "candle"
    reason: str
    consecutive: int
    pause: bool = False


@dataclass(frozen=True)
class PriceEvent(EngineEvent):
    symbol: str
    price: float


E = TypeVar("E", bound=EngineEvent)
Handler = Callable[[Any], None]


class EventDeliveryError(RuntimeError):
    """One or more handlers raised; every other handler still received the event."""

    def __init__(self, event: EngineEvent, failures: list[tuple[Handler, BaseException]]):
        self.event = event
        self.failures = failures
        names = ", ".join(f"{getattr(h, '__qualname__', h)!s}: {e!r}" for h, e in failures)
        super().__init__(f"{type(event).__name__} delivery failed in {names}")


@dataclass(frozen=True)
class Subscription:
    event_type: type[EngineEvent]
    handler: Handler
    bus: EventBus

    def cancel(self) -> None:
        self.bus.unsubscribe(self)


class EventBus:
    """Synchronous publish/subscribe by event class."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Subscription:
        subscription = Subscription(event_type, handler, self)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions = [s for s in self._subscriptions if s is not subscription]

    def publish(self, event: EngineEvent) -> None:
        failures: list[tuple[Handler, BaseException]] = []
        for subscription in list(self._subscriptions):
            if isinstance(event, subscription.event_type):
                try:
                    subscription.handler(event)
                except Exception as exc:  # noqa: BLE001 - contained, then re-raised together
                    failures.append((subscription.handler, exc))
        if failures:
            raise EventDeliveryError(event, failures)
