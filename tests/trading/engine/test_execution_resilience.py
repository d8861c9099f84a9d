"""The pieces the ccxt adapters are built from: retry policy, token bucket, secret
redaction, failed-order store, and the translation of exchange reports."""

from __future__ import annotations

import logging
from decimal import Decimal

import ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.engine.execution.ccxt_orders import (
    advance,
    aggregate_fill,
    balances_from,
    fills_from_trades,
)
from trading.engine.execution.exchange_errors import (
    TemporaryExchangeError,
    is_duplicate,
    is_rejection,
    is_transient,
)
from trading.engine.execution.failed_orders import FailedOrder, InMemoryFailedOrderStore
from trading.engine.execution.rate_limit import TokenBucket
from trading.engine.execution.redaction import MASK, SecretRedactor
from trading.engine.execution.retry import Retrier, RetryPolicy
from trading.engine.instruments import Instrument
from trading.engine.orders import Order, OrderSide, OrderStatus

NOW = 1_704_067_200_000
BTC = Instrument("BTCUSDT", "BTC", "USDT")


class FakeTime:
    """A monotonic clock and a sleep that advances it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# -- retry ---------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter():
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=30.0, jitter=0.1)
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert policy.delay(3, unit=0.0) == pytest.approx(3.8)
    assert policy.delay(3, unit=0.999999) == pytest.approx(4.2, abs=1e-5)
    assert policy.delay(1, retry_after=7.0) == 7.0


def test_the_retrier_retries_only_transient_failures():
    time = FakeTime()
    retrier = Retrier(RetryPolicy(attempts=3, base_delay_s=0.5), sleep=time.sleep, rng=lambda: 0.5)
    answers = iter([ccxt.RequestTimeout("slow"), ccxt.DDoSProtection("429"), "ok"])

    def flaky():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert retrier.call("fetch", flaky) == "ok"
    assert time.sleeps == [0.5, 1.0]
    with pytest.raises(ccxt.InsufficientFunds):
        retrier.call("order", lambda: (_ for _ in ()).throw(ccxt.InsufficientFunds("no")))
    assert time.sleeps == [0.5, 1.0]  # no wait for a business refusal


def test_the_retrier_gives_up_after_its_budget_or_an_unreasonable_retry_after():
    time = FakeTime()
    down = Retrier(RetryPolicy(attempts=3, base_delay_s=0.1), sleep=time.sleep)

    def always_down():
        raise ccxt.ExchangeNotAvailable("503")

    with pytest.raises(TemporaryExchangeError, match="gave up after 3 attempts") as raised:
        down.call("fetch", always_down)
    assert isinstance(raised.value.__cause__, ccxt.ExchangeNotAvailable)
    banned = Retrier(RetryPolicy(max_retry_after_s=60), sleep=time.sleep, retry_after=lambda: 600.0)
    with pytest.raises(TemporaryExchangeError, match="asked to wait 600s"):
        banned.call("fetch", always_down)
    assert len(time.sleeps) == 2


def test_errors_are_classified_for_retry_rejection_and_duplicate():
    assert is_transient(ccxt.RequestTimeout()) and is_transient(ccxt.BadResponse())
    assert not is_transient(ccxt.AuthenticationError())
    assert is_rejection(ccxt.InsufficientFunds()) and is_rejection(ccxt.InvalidOrder("LOT_SIZE"))
    duplicate = ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}')
    assert is_duplicate(duplicate) and not is_rejection(duplicate)
    assert not is_rejection(ccxt.OrderNotFound()) and not is_rejection(ccxt.PermissionDenied())


# -- token bucket --------------------------------------------------------------------------------


def test_the_bucket_lets_a_burst_through_then_paces_to_its_rate():
    time = FakeTime()
    bucket = TokenBucket(capacity=3, rate_per_s=2.0, clock=time.clock, sleep=time.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits == [0.0, 0.0, 0.0, pytest.approx(0.5), pytest.approx(0.5)]
    time.now += 10
    assert bucket.acquire() == 0.0


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 5),
    rate=st.sampled_from([0.5, 1.0, 3.0]),
    gaps=st.lists(st.floats(0, 3, allow_nan=False), min_size=1, max_size=40),
)
def test_no_window_ever_holds_more_than_the_burst_plus_the_refill(capacity, rate, gaps):
    time = FakeTime()
    bucket = TokenBucket(capacity=capacity, rate_per_s=rate, clock=time.clock, sleep=time.sleep)
    taken: list[float] = []
    for gap in gaps:
        time.now += gap
        bucket.acquire()
        taken.append(time.now)
    for i in range(len(taken)):
        for j in range(i, len(taken)):
            assert j - i + 1 <= capacity + rate * (taken[j] - taken[i]) + 1e-6


# -- redaction -----------------------------------------------------------------------------------


def test_the_redactor_masks_secrets_in_messages_arguments_tracebacks_and_causes(caplog):
    redactor = SecretRedactor(["api-key-123456", "abc", None])
    logger = logging.getLogger("tests.redaction")
    redactor.install(logger, logger)
    assert logger.filters.count(redactor) == 1
    caplog.set_level(logging.DEBUG, logger="tests.redaction")
    try:
        try:
            raise ValueError("server echoed api-key-123456")
        except ValueError as inner:
            raise RuntimeError("request failed") from inner
    except RuntimeError:
        logger.exception("headers %s", {"X-MBX-APIKEY": "api-key-123456"})
    assert "api-key-123456" not in caplog.text and MASK in caplog.text
    error = RuntimeError("wrapped")
    error.__cause__ = ccxt.AuthenticationError("bad key api-key-123456")
    redactor.scrub(error)
    assert "api-key-123456" not in str(error.__cause__)
    assert redactor.redact("abc stays") == "abc stays"  # too short to be registered


# -- failed orders -------------------------------------------------------------------------------


def test_the_store_keeps_one_record_per_order_and_counts_every_attempt():
    store = InMemoryFailedOrderStore()
    order = Order.create(client_order_id="a", symbol="BTCUSDT", side=OrderSide.BUY,
                         quantity=1, created_ms=NOW)
    store.add(FailedOrder(order, "503", "temporary", 4, NOW))
    store.add(FailedOrder(order, "timeout", "temporary", 6, NOW + 1))
    [record] = store.all()
    assert (record.attempts, record.reason) == (10, "timeout")
    store.remove("a")
    store.remove("a")
    assert store.get("a") is None and len(store) == 0


# -- exchange reports ----------------------------------------------------------------------------


def submitted(quantity: str = "0.02", price: str | None = "40000", **kwargs) -> Order:
    order = Order.create(client_order_id="cid", symbol="BTCUSDT", side=OrderSide.BUY,
                         quantity=Decimal(quantity), created_ms=NOW,
                         limit_price=None if price is None else Decimal(price), **kwargs)
    return order.submit(NOW + 5, exchange_order_id="77")


def trade(trade_id: str, amount: float, price: float, fee: dict | None, ts: int) -> dict:
    return {"id": trade_id, "order": "77", "amount": amount, "price": price, "fee": fee,
            "timestamp": ts, "takerOrMaker": "maker"}


def test_fees_are_booked_in_the_quote_whatever_asset_they_were_paid_in():
    order = submitted()
    trades = [
        trade("1", 0.01, 40000.0, {"cost": 0.4, "currency": "USDT"}, NOW + 10),
        trade("2", 0.005, 40000.0, {"cost": 0.000005, "currency": "BTC"}, NOW + 11),
        trade("3", 0.005, 40000.0, {"cost": 0.001, "currency": "BNB"}, NOW + 12),
        trade("4", 0.0, 40000.0, None, NOW + 13),  # nothing traded: ignored
    ]
    fills = fills_from_trades(order, trades, BTC,
                              lambda asset, amount, quote: amount * Decimal("300"))
    assert [f.fee for f in fills] == [Decimal("0.4"), Decimal("0.2"), Decimal("0.3")]
    assert {f.trade_id for f in fills} == {"1", "2", "3"}


def test_a_report_without_trades_is_booked_as_one_fill_at_its_implied_price():
    order = submitted()
    raw = {"id": "77", "status": "closed", "filled": 0.02, "cost": 801.0,
           "fee": {"cost": 0.801, "currency": "USDT"}, "lastTradeTimestamp": NOW + 20}
    fill = aggregate_fill(order, [], raw, BTC, lambda *a: None, NOW + 30)
    assert (fill.quantity, fill.price, fill.fee) == (Decimal("0.02"), Decimal("40050"),
                                                     Decimal("0.801"))
    done, booked = advance(order, raw, [fill, fill], NOW + 30)
    assert done.status is OrderStatus.FILLED and booked == [fill]  # booked once


def test_exchange_endings_map_onto_legal_transitions():
    expiring = submitted(expires_ms=NOW + 100)
    partial = advance(expiring, {"status": "open"},
                      fills_from_trades(expiring, [trade("1", 0.01, 40000.0, None, NOW + 50)],
                                        BTC, lambda *a: None), NOW + 60)[0]
    assert partial.status is OrderStatus.PARTIAL
    assert advance(partial, {"status": "expired"}, [], NOW + 100)[0].status is OrderStatus.EXPIRED
    early = advance(partial, {"status": "expired"}, [], NOW + 70)[0]
    assert early.status is OrderStatus.CANCELLED and "expired" in early.history[-1].reason
    rejected = advance(partial, {"status": "rejected"}, [], NOW + 70)[0]
    assert rejected.status is OrderStatus.CANCELLED
    assert advance(submitted(), {"status": "rejected"}, [], NOW)[0].status is OrderStatus.REJECTED


def test_balances_keep_assets_that_hold_something():
    raw = {"free": {"USDT": 10.5, "BTC": 0.0, "ETH": 0.0}, "used": {"USDT": 2.0, "ETH": 0.1}}
    balances = balances_from(raw)
    assert sorted(balances) == ["ETH", "USDT"]
    assert balances["USDT"].total == Decimal("12.5")
