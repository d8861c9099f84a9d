"""The order record and its state machine, client order ids."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.engine.orders import (
    ClientOrderIds,
    Fill,
    IllegalTransition,
    Liquidity,
    Order,
    OrderError,
    OrderSide,
    OrderStatus,
    OrderType,
    OverfillError,
    can_transition,
    client_order_id,
)

D = Decimal


def new_order(qty: str = "1.0", *, price: str | None = None, expires_ms: int | None = None):
    return Order.create(
        client_order_id="org-test",
        symbol="BTCUSDT",
        side=OrderSide.BUY,
        quantity=D(qty),
        created_ms=1_000,
        limit_price=None if price is None else D(price),
        expires_ms=expires_ms,
    )


def fill_of(order: Order, qty: str, price: str = "100", ts: int = 2_000, fee: str = "0.1"):
    return Fill(order.client_order_id, order.symbol, order.side, D(qty), D(price), D(fee), ts)


def test_it_walks_the_happy_path_and_keeps_history():
    # given a new market order
    order = new_order("1.0")
    assert order.status is OrderStatus.PENDING and order.type is OrderType.MARKET
    # when it is submitted and filled in two parts
    submitted = order.submit(1_500, exchange_order_id="x-1")
    partial = submitted.fill(fill_of(submitted, "0.4", "100", 2_000))
    filled = partial.fill(fill_of(partial, "0.6", "110", 3_000))
    # then statuses and history follow the lifecycle, with timestamps
    assert (partial.status, filled.status) == (OrderStatus.PARTIAL, OrderStatus.FILLED)
    assert [(t.ts_ms, t.target) for t in filled.history] == [
        (1_000, OrderStatus.PENDING),
        (1_500, OrderStatus.SUBMITTED),
        (2_000, OrderStatus.PARTIAL),
        (3_000, OrderStatus.FILLED),
    ]
    assert filled.filled_quantity == D("1.0") and filled.remaining_quantity == 0
    assert filled.average_fill_price == D("106")  # (0.4*100 + 0.6*110) / 1
    assert filled.fees == D("0.2")
    assert filled.exchange_order_id == "x-1"
    # and the earlier records are untouched (immutability)
    assert order.status is OrderStatus.PENDING and submitted.fills == ()


def test_a_partial_order_stays_partial_across_fills_without_extra_transitions():
    order = new_order("1.0").submit(1_000)
    order = order.fill(fill_of(order, "0.2", ts=2_000))
    order = order.fill(fill_of(order, "0.3", ts=3_000))
    assert order.status is OrderStatus.PARTIAL
    assert [t.target for t in order.history].count(OrderStatus.PARTIAL) == 1
    assert len(order.fills) == 2


@pytest.mark.parametrize(
    ("prepare", "action", "target"),
    [
        (lambda o: o, lambda o: o.fill(fill_of(o, "0.1")), None),
        (lambda o: o.submit(1_000).cancel(1_100), lambda o: o.submit(1_200), "SUBMITTED"),
        (lambda o: o.cancel(1_100), lambda o: o.cancel(1_200), "CANCELLED"),
        (lambda o: o.submit(1_000).reject(1_100, "no"), lambda o: o.cancel(1_200), "CANCELLED"),
    ],
)
def test_it_refuses_illegal_transitions(prepare, action, target):
    # given an order in some state
    order = prepare(new_order())
    # when an illegal operation is attempted, then it is refused with a clear error
    with pytest.raises(OrderError) as excinfo:
        action(order)
    if target is not None:
        assert isinstance(excinfo.value, IllegalTransition)
        assert f"illegal transition {order.status.value} -> {target}" in str(excinfo.value)


def test_a_filled_order_cannot_be_cancelled_and_the_error_names_the_order():
    order = new_order("1").submit(1_000)
    order = order.fill(fill_of(order, "1"))
    with pytest.raises(IllegalTransition, match=r"org-test.*FILLED -> CANCELLED.*terminal"):
        order.cancel(3_000)


def test_it_refuses_an_overfill_and_a_foreign_fill():
    order = new_order("1").submit(1_000)
    with pytest.raises(OverfillError):
        order.fill(fill_of(order, "1.5"))
    foreign = Fill("other", "BTCUSDT", OrderSide.BUY, D("0.1"), D("100"), D("0"), 2_000)
    with pytest.raises(OrderError, match="another order"):
        order.fill(foreign)


def test_time_never_goes_backwards_in_an_order():
    order = new_order().submit(5_000)
    with pytest.raises(OrderError, match="before its last update"):
        order.cancel(4_000)
    with pytest.raises(OrderError, match="before its last update"):
        order.fill(fill_of(order, "0.1", ts=4_999))


def test_expiry_only_for_orders_with_a_time_constraint_once_reached():
    timed = new_order(expires_ms=10_000).submit(2_000)
    with pytest.raises(OrderError, match="cannot expire"):
        timed.expire(9_999)
    expired = timed.expire(10_000)
    assert expired.status is OrderStatus.EXPIRED and expired.history[-1].reason == "expired"
    with pytest.raises(OrderError, match="cannot expire"):
        new_order().submit(2_000).expire(99_000)


def test_limit_orders_can_be_repriced_and_keep_their_price_history():
    order = new_order(price="100").submit(1_000)
    improved = order.reprice(D("99.5"), 2_000).reprice(D("99"), 3_000)
    assert improved.limit_price == D("99")
    assert [(a.old_price, a.new_price) for a in improved.amendments] == [
        (D("100"), D("99.5")),
        (D("99.5"), D("99")),
    ]
    with pytest.raises(OrderError, match="only LIMIT"):
        new_order().reprice(D("1"), 2_000)
    with pytest.raises(OrderError, match="CANCELLED"):
        order.cancel(1_500).reprice(D("98"), 2_000)


def test_order_fields_are_validated_and_frozen():
    with pytest.raises(OrderError, match="positive"):
        new_order("0")
    with pytest.raises(OrderError, match="LIMIT order needs a positive price"):
        Order(
            client_order_id="x",
            symbol="S",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            quantity=D(1),
            created_ms=0,
        )
    with pytest.raises(dataclasses.FrozenInstanceError):
        new_order().status = OrderStatus.FILLED  # type: ignore[misc]


def test_client_order_ids_are_deterministic_unique_and_exchange_safe():
    # given the same inputs, the same id (a retry after a crash re-creates it)
    first = client_order_id("session-7", "BTCUSDT", 1_700_000_000_000, "entry")
    assert first == client_order_id("session-7", "BTCUSDT", 1_700_000_000_000, "entry")
    # and different inputs give different ids
    others = {
        client_order_id("session-8", "BTCUSDT", 1_700_000_000_000, "entry"),
        client_order_id("session-7", "ETHUSDT", 1_700_000_000_000, "entry"),
        client_order_id("session-7", "BTCUSDT", 1_700_000_000_001, "entry"),
        client_order_id("session-7", "BTCUSDT", 1_700_000_000_000, "exit"),
    }
    assert first not in others and len(others) == 4
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,36}", first)


def test_the_id_factory_numbers_repeats_and_replays_identically_after_a_restart():
    ids = ClientOrderIds("s1")
    issued = [ids.next("BTCUSDT", 100, "grid"), ids.next("BTCUSDT", 100, "grid")]
    assert issued[0] != issued[1]
    restarted = ClientOrderIds("s1")
    assert [restarted.next("BTCUSDT", 100, "grid") for _ in range(2)] == issued
    with pytest.raises(ValueError):
        ClientOrderIds("s1", prefix="bad prefix!")


# -- property: random event sequences never break the state machine -----------------------

# Independent of orders.state.TRANSITIONS: what each operation needs.
CANCELLABLE = {OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.PARTIAL}
REJECTABLE = {OrderStatus.PENDING, OrderStatus.SUBMITTED}
EXPIRABLE = {OrderStatus.SUBMITTED, OrderStatus.PARTIAL}
FILLABLE = {OrderStatus.SUBMITTED, OrderStatus.PARTIAL}

actions = st.lists(
    st.tuples(
        # weighted towards fills so that PARTIAL and FILLED orders are explored too
        st.sampled_from(
            ["submit", "fill", "fill", "fill", "fill", "cancel", "reject", "expire", "reprice"]
        ),
        st.integers(min_value=-50, max_value=500),  # time step, sometimes backwards
        st.one_of(st.just(0), st.integers(1, 120)),  # fill quantity in hundredths, 0 = the rest
    ),
    max_size=25,
)


def expected_legal(order: Order, action: str, ts: int, qty: Decimal) -> bool:
    if ts < order.updated_ms:
        return False
    status = order.status
    if action == "submit":
        return status is OrderStatus.PENDING
    if action == "fill":
        return status in FILLABLE and qty <= order.remaining_quantity
    if action == "cancel":
        return status in CANCELLABLE
    if action == "reject":
        return status in REJECTABLE
    if action == "expire":
        return status in EXPIRABLE and ts >= 2_000
    return not status.is_terminal  # reprice


def apply(order: Order, action: str, ts: int, qty: Decimal) -> Order:
    if action == "submit":
        return order.submit(ts)
    if action == "fill":
        return order.fill(
            Fill(order.client_order_id, order.symbol, order.side, qty, D("100"), D("0.01"), ts)
        )
    if action == "cancel":
        return order.cancel(ts)
    if action == "reject":
        return order.reject(ts, "venue said no")
    if action == "expire":
        return order.expire(ts)
    return order.reprice(D("99"), ts)


def assert_consistent(order: Order) -> None:
    assert order.filled_quantity == sum((f.quantity for f in order.fills), D(0))
    assert 0 <= order.filled_quantity <= order.quantity
    assert (order.status is OrderStatus.FILLED) == (order.filled_quantity == order.quantity)
    if order.status is OrderStatus.PARTIAL:
        assert 0 < order.filled_quantity < order.quantity
    history = order.history
    assert history[0].source is None and history[0].target is OrderStatus.PENDING
    assert history[-1].target is order.status
    for before, after in zip(history, history[1:], strict=False):
        assert after.source is before.target
        assert can_transition(before.target, after.target)
        assert after.ts_ms >= before.ts_ms
    fill_times = [f.ts_ms for f in order.fills]
    assert fill_times == sorted(fill_times)


@settings(max_examples=100, deadline=None)
@given(actions, st.integers(min_value=1, max_value=200), st.booleans())
def test_random_event_sequences_never_reach_an_illegal_state(steps, quantity_hundredths, sent):
    # given a limit order that expires at t=2000
    order = Order.create(
        client_order_id="p",
        symbol="BTCUSDT",
        side=OrderSide.SELL,
        quantity=D(quantity_hundredths) / 100,
        created_ms=1_000,
        limit_price=D("100"),
        expires_ms=2_000,
    )
    if sent:
        steps = [("submit", 0, 1), *steps]
    ts = 1_000
    for action, step, qty_hundredths in steps:
        ts += step
        qty = D(qty_hundredths) / 100 if qty_hundredths else order.remaining_quantity or D(1)
        legal = expected_legal(order, action, ts, qty)
        # when any operation is attempted
        try:
            result = apply(order, action, ts, qty)
        except OrderError:
            # then an illegal one is refused and the order is unchanged
            assert not legal, f"{action} at {ts} was legal from {order.status}"
        else:
            assert legal, f"{action} at {ts} should have been refused from {order.status}"
            order = result
        assert_consistent(order)


def test_fills_record_liquidity_and_notional():
    fill = Fill("a", "S", OrderSide.SELL, D("2"), D("50"), D("0.05"), 1, Liquidity.MAKER, "t1")
    assert fill.notional == D("100") and fill.liquidity is Liquidity.MAKER
    with pytest.raises(OrderError):
        Fill("a", "S", OrderSide.SELL, D("0"), D("50"), D("0"), 1)
