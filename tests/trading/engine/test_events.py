"""Engine events and the in-process event bus."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from trading.engine.events import (
    BreakerEvent,
    DecisionEvent,
    EngineEvent,
    EventBus,
    EventDeliveryError,
    FillEvent,
    OrderEvent,
)
from trading.engine.orders import Fill, Order, OrderSide

D = Decimal


def test_handlers_receive_their_event_class_and_subclasses_in_subscription_order():
    # given a journal listening to everything and a dashboard to fills only
    bus, received = EventBus(), []
    bus.subscribe(EngineEvent, lambda e: received.append(("journal", type(e).__name__)))
    bus.subscribe(FillEvent, lambda e: received.append(("dashboard", type(e).__name__)))
    # when a breaker event and a fill event are published
    bus.publish(BreakerEvent(1, "slippage", "PAUSE", "too much"))
    bus.publish(FillEvent(2, "o1", "BTC", "BUY", D(1), D(100), D("0.1"), "TAKER"))
    # then each handler got what it subscribed to, in order
    assert received == [
        ("journal", "BreakerEvent"),
        ("journal", "FillEvent"),
        ("dashboard", "FillEvent"),
    ]


def test_a_failing_handler_does_not_starve_the_others_but_is_reported():
    bus, received = EventBus(), []

    def broken(event: EngineEvent) -> None:
        raise RuntimeError("journal down")

    bus.subscribe(EngineEvent, broken)
    bus.subscribe(EngineEvent, received.append)
    event = DecisionEvent(5, "BTC", "HOLD", 0.4, "confidence below threshold")
    with pytest.raises(EventDeliveryError, match="journal down") as excinfo:
        bus.publish(event)
    assert received == [event] and excinfo.value.event is event


def test_unsubscribed_handlers_receive_nothing():
    bus, received = EventBus(), []
    subscription = bus.subscribe(EngineEvent, received.append)
    subscription.cancel()
    bus.publish(BreakerEvent(1, "x", "PAUSE", "r"))
    assert received == []


def test_order_and_fill_events_are_built_from_the_records():
    order = Order.create(
        client_order_id="c1",
        symbol="BTC",
        side=OrderSide.SELL,
        quantity=D(2),
        created_ms=10,
        limit_price=D(50),
        tag="grid:1",
    )
    submitted = order.submit(20)
    event = OrderEvent.from_order(submitted)
    assert (event.ts_ms, event.status, event.previous_status, event.limit_price, event.tag) == (
        20,
        "SUBMITTED",
        "PENDING",
        D(50),
        "grid:1",
    )
    fill = Fill("c1", "BTC", OrderSide.SELL, D(1), D(51), D("0.05"), 30)
    assert FillEvent.from_fill(fill).price == D(51)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.status = "FILLED"  # type: ignore[misc]
