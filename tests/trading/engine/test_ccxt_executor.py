"""The ccxt executor against a local server that answers like Binance spot.

ccxt's real binance class talks HTTP to `FakeBinanceSpot`; nothing of ours is
mocked. Backoff waits go through a recording `sleep`, so retries cost no time.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import ccxt
import pytest

from tests.fake_exchange import Market
from tests.fake_exchange_orders import FakeBinanceSpot, OrderFault, point_ccxt_at
from trading.engine.clock import SimulatedClock
from trading.engine.events import EventBus, FillEvent, OrderEvent
from trading.engine.execution import Balance, DuplicateClientOrderId, Executor
from trading.engine.execution.ccxt_executor import CcxtExecutor
from trading.engine.execution.exchange_errors import (
    OperationalExchangeError,
    TemporaryExchangeError,
)
from trading.engine.execution.failed_orders import InMemoryFailedOrderStore
from trading.engine.execution.rate_limit import TokenBucket
from trading.engine.execution.retry import RetryPolicy
from trading.engine.orders import Order, OrderSide, OrderStatus

NOW = 1_704_241_800_000  # 2024-01-03 00:30 UTC
API_KEY = "test-api-key-7Hq2ZpX9wL4m"
SECRET = "test-secret-Vb81NcQe5RtY3u"
FAST_RETRY = RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.05)


@pytest.fixture
def fake():
    with FakeBinanceSpot(
        now_ms=NOW,
        markets=[Market("BTC", "USDT")],
        balances={"USDT": "10000", "BTC": "0.5"},
        prices={"BTCUSDT": "42000"},
    ) as server:
        yield server


class Sleeps(list):
    """A `sleep` that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def binance(fake: FakeBinanceSpot, *, timeout_ms: int = 400) -> ccxt.binance:
    exchange = ccxt.binance({
        "apiKey": API_KEY, "secret": SECRET, "timeout": timeout_ms, "rateLimit": 5,
        "options": {"fetchMarkets": {"types": ["spot"]}},
    })
    point_ccxt_at(exchange, fake.base_url)
    return exchange


def executor(fake, *, sleeps=None, bus=None, store=None, clock=None, **kwargs) -> CcxtExecutor:
    return CcxtExecutor(
        binance(fake, **kwargs),
        clock=clock or SimulatedClock(NOW),
        retry=FAST_RETRY,
        sleep=sleeps if sleeps is not None else Sleeps(),
        bus=bus,
        failed_orders=store if store is not None else InMemoryFailedOrderStore(),
    )


def buy(client_id: str, quantity: str = "0.01", price: str | None = None, **kwargs) -> Order:
    return Order.create(client_order_id=client_id, symbol="BTCUSDT", side=OrderSide.BUY,
                        quantity=Decimal(quantity), created_ms=NOW,
                        limit_price=None if price is None else Decimal(price), **kwargs)


def posts(fake) -> list[int]:
    return [r.status for r in fake.requests_to("/api/v3/order", "POST")]


def record_events(bus: EventBus) -> list[object]:
    seen: list[object] = []
    bus.subscribe(OrderEvent, seen.append)
    bus.subscribe(FillEvent, seen.append)
    return seen


def test_it_submits_fills_and_cancels_a_round_trip(fake):
    # given
    bus = EventBus()
    events = record_events(bus)
    ex = executor(fake, bus=bus)
    # when a market buy is sent
    filled = ex.submit(buy("rt-market"))
    # then it filled at the exchange price, the fee booked in USDT, announced in order
    assert isinstance(ex, Executor)
    assert filled.status is OrderStatus.FILLED
    assert filled.exchange_order_id == str(fake.orders[0]["orderId"])
    assert [(f.quantity, f.price, f.fee) for f in filled.fills] == [
        (Decimal("0.01"), Decimal("42000"), Decimal("0.42"))
    ]
    assert [getattr(e, "status", "fill") for e in events] == ["SUBMITTED", "fill", "FILLED"]
    # when a limit buy below the market rests and is then cancelled
    resting = ex.submit(buy("rt-limit", price="41000"))
    assert resting.status is OrderStatus.SUBMITTED
    assert [o.client_order_id for o in ex.open_orders("BTCUSDT")] == ["rt-limit"]
    assert fake.wallet("USDT")[1] == Decimal("410.41")  # locked with the worst fee
    cancelled = ex.cancel("rt-limit")
    # then the exchange released the funds and the balances agree with it
    assert cancelled.status is OrderStatus.CANCELLED
    assert ex.open_orders() == []
    balances = ex.balances()
    assert balances["USDT"].free == Decimal("10000") - Decimal("420") - Decimal("0.42")
    assert balances["USDT"].used == 0
    assert balances["BTC"].total == Decimal("0.51")
    assert ex.cancel("rt-limit") is cancelled  # idempotent
    assert posts(fake) == [200, 200]


@pytest.mark.parametrize(
    "fault", [OrderFault.accept_then_timeout(1.0), OrderFault.accept_then_disconnect()],
    ids=["timeout", "disconnect"],
)
def test_an_order_accepted_before_the_connection_failed_is_never_sent_twice(fake, fault):
    # given the exchange takes the order, then the answer never arrives
    fake.inject_order_fault("POST order", fault)
    sleeps = Sleeps()
    ex = executor(fake, sleeps=sleeps, timeout_ms=300)
    # when
    placed = ex.submit(buy("once-only"))
    # then the executor looked the order up instead of re-sending it
    assert placed.status is OrderStatus.FILLED
    assert len(fake.orders_with_client_id("once-only")) == 1
    assert len(posts(fake)) == 1
    assert len(sleeps) == 1 and sleeps[0] > 0
    lookups = fake.requests_to("/api/v3/order", "GET")
    assert [r.query["origClientOrderId"] for r in lookups] == ["once-only"]
    assert fake.wallet("BTC")[0] == Decimal("0.51")  # bought once


def test_a_finished_order_is_not_doubled_even_though_binance_would_accept_its_id_again(fake):
    # given the first answer is lost after a market order filled (its id is free again)
    fake.inject_order_fault("POST order", OrderFault.accept_then_disconnect())
    ex = executor(fake)
    ex.submit(buy("filled-then-lost"))
    # when the same order is submitted again by a caller that retries
    again = ex.submit(buy("filled-then-lost"))
    # then it is the known order, and the exchange still saw one
    assert again.status is OrderStatus.FILLED
    assert len(fake.orders_with_client_id("filled-then-lost")) == 1


def test_it_waits_out_a_429_and_then_places_the_order(fake):
    # given
    fake.inject_order_fault("POST order", OrderFault.rate_limit(retry_after=0))
    sleeps = Sleeps()
    ex = executor(fake, sleeps=sleeps)
    # when
    placed = ex.submit(buy("after-429"))
    # then
    assert placed.status is OrderStatus.FILLED
    assert posts(fake) == [429, 200]
    assert len(fake.orders) == 1
    assert len(sleeps) == 1 and 0.0095 <= sleeps[0] <= 0.0105  # base delay, +/-5% jitter


def test_it_honours_a_retry_after_longer_than_its_own_backoff(fake):
    fake.inject_order_fault("POST order", OrderFault.rate_limit(retry_after=3))
    sleeps = Sleeps()
    executor(fake, sleeps=sleeps).submit(buy("retry-after"))
    assert sleeps == [3.0]


def test_5xx_until_the_budget_is_spent_stores_the_order_for_recovery(fake):
    # given the exchange answers 503 to every attempt
    fake.inject_order_fault("POST order", *[OrderFault.server_error(503)] * FAST_RETRY.attempts)
    store = InMemoryFailedOrderStore()
    sleeps = Sleeps()
    ex = executor(fake, sleeps=sleeps, store=store)
    # when
    with pytest.raises(TemporaryExchangeError, match="gave up after 4 attempts"):
        ex.submit(buy("down"))
    # then nothing was placed, backoff grew, and the order waits in the store
    assert fake.orders == [] and posts(fake) == [503] * 4
    assert len(sleeps) == 3 and sleeps[0] < sleeps[1] < sleeps[2]
    [failure] = store.all()
    assert (failure.client_order_id, failure.error_type, failure.attempts) == ("down", "temporary", 4)
    assert "ExchangeNotAvailable" in failure.reason
    # when the exchange is back, recovery asks first and then places it exactly once
    [recovered] = ex.recover_failed()
    assert recovered.status is OrderStatus.FILLED
    assert store.all() == [] and len(fake.orders_with_client_id("down")) == 1


def test_insufficient_funds_is_a_rejection_without_retry(fake):
    # given an order larger than the USDT balance
    sleeps = Sleeps()
    store = InMemoryFailedOrderStore()
    ex = executor(fake, sleeps=sleeps, store=store)
    # when
    rejected = ex.submit(buy("too-big", quantity="1"))
    # then
    assert rejected.status is OrderStatus.REJECTED
    assert "InsufficientFunds" in rejected.history[-1].reason
    assert posts(fake) == [400] and sleeps == [] and store.all() == []
    assert ex.submit(buy("too-big", quantity="1")) is rejected


def test_off_grid_orders_are_rejected_locally_and_rounded_gives_the_sendable_order(fake):
    ex = executor(fake)
    off_grid = buy("grid", quantity="0.0123456", price="41000.005")
    assert "lot" in ex.submit(off_grid).history[-1].reason
    assert posts(fake) == []
    rounded = ex.rounded(buy("grid-2", quantity="0.0123456", price="41000.005"))
    assert (rounded.quantity, rounded.limit_price) == (Decimal("0.01234"), Decimal("41000.00"))
    assert ex.submit(rounded).status is OrderStatus.SUBMITTED


def test_reusing_a_client_id_for_another_order_is_refused(fake):
    ex = executor(fake)
    first = ex.submit(buy("same-id"))
    assert ex.submit(buy("same-id")) is first
    with pytest.raises(DuplicateClientOrderId):
        ex.submit(buy("same-id", quantity="0.02"))


def test_a_duplicate_answer_adopts_the_order_the_exchange_already_holds(fake):
    # given a previous process placed the order and died before saving the answer
    executor(fake).submit(buy("placed-before", price="41000"))
    # when a fresh executor submits it again
    ex = executor(fake)
    adopted = ex.submit(buy("placed-before", price="41000"))
    # then Binance refused the duplicate and the executor adopted the open order
    assert adopted.status is OrderStatus.SUBMITTED
    assert adopted.exchange_order_id == str(fake.orders[0]["orderId"])
    assert posts(fake) == [200, 400]
    assert len(fake.orders) == 1


def test_a_pending_order_saved_before_a_crash_is_looked_up_before_it_is_sent(fake):
    # given the order reached the exchange but the process died before recording it
    executor(fake).submit(buy("crash-window"))
    restarted = executor(fake)
    restarted.resume([buy("crash-window")])
    # when the session submits it again
    order = restarted.submit(buy("crash-window"))
    # then
    assert order.status is OrderStatus.FILLED
    assert posts(fake) == [200] and len(fake.orders) == 1


def test_refresh_books_partial_fills_and_expires_orders_at_their_time_limit(fake):
    # given a resting order with a one-minute expiry
    bus = EventBus()
    events = record_events(bus)
    clock = SimulatedClock(NOW)
    ex = executor(fake, bus=bus, clock=clock)
    ex.submit(buy("partial", quantity="0.02", price="41000", expires_ms=NOW + 60_000))
    # when the market trades half of it
    fake.fill_resting("partial", "0.01")
    [fill] = ex.refresh()
    # then
    assert (fill.quantity, fill.price, fill.fee) == (Decimal("0.01"), Decimal("41000"), Decimal("0.41"))
    assert ex.fetch_order("partial").status is OrderStatus.PARTIAL
    # when its time runs out
    clock.advance_by(60_000)
    assert ex.refresh() == []
    # then it was cancelled at the exchange and recorded as EXPIRED
    assert ex.fetch_order("partial").status is OrderStatus.EXPIRED
    assert fake.orders_with_client_id("partial")[0]["status"] == "CANCELED"
    statuses = [e.status for e in events if isinstance(e, OrderEvent)]
    assert statuses == ["SUBMITTED", "PARTIAL", "EXPIRED"]


def test_reconcile_after_a_restart_finds_what_happened_while_it_was_down(fake):
    # given a session that placed a resting buy, then died
    first = executor(fake)
    resting = first.submit(buy("resting", price="41000"))
    never_sent = buy("never-sent", price="40000")  # saved PENDING, crashed before sending
    ghost = buy("ghost", price="39000").submit(NOW, exchange_order_id="999999")
    # and while it was down the buy filled and someone opened an order by hand
    fake.fill_resting("resting")
    binance(fake).create_order("BTC/USDT", "limit", "sell", 0.1, 50000, {"clientOrderId": "manual"})
    # when the restarted session reconciles its saved orders
    report = executor(fake).reconcile([resting, never_sent, ghost])
    # then
    assert [o.client_order_id for o in report.filled_while_down] == ["resting"]
    assert report.filled_while_down[0].status is OrderStatus.FILLED
    assert [(f.client_order_id, f.quantity, f.price) for f in report.fills] == [
        ("resting", Decimal("0.01"), Decimal("41000"))
    ]
    assert [o.client_order_id for o in report.unknown_open] == ["manual"]
    assert (report.unknown_open[0].side, report.unknown_open[0].symbol) == (OrderSide.SELL,
                                                                          "BTCUSDT")
    assert [o.client_order_id for o in report.missing] == ["ghost"]
    assert [o.client_order_id for o in report.never_sent] == ["never-sent"]
    assert report.balances["BTC"] == fake_balance(fake, "BTC")
    assert report.balances["USDT"] == fake_balance(fake, "USDT")
    assert not report.in_sync


def fake_balance(fake, asset):
    free, locked = fake.wallet(asset)
    return Balance(asset, free, locked)


def test_reconcile_with_nothing_changed_is_in_sync(fake):
    first = executor(fake)
    resting = first.submit(buy("quiet", price="41000"))
    report = executor(fake).reconcile([resting])
    assert report.in_sync
    assert [o.status for o in report.orders] == [OrderStatus.SUBMITTED]


def test_credentials_never_reach_logs_or_exception_messages(fake, caplog):
    # given every logger at DEBUG (ccxt then logs request headers, API key included)
    caplog.set_level(logging.DEBUG)
    store = InMemoryFailedOrderStore()
    ex = executor(fake, store=store)
    ex.submit(buy("logged", price="41000"))
    # and a refusal whose message echoes the key back, on a transient path and a final one
    fake.inject_order_fault("POST order", OrderFault.server_error(502), OrderFault.reject_key())
    fresh = executor(fake, store=store)
    with pytest.raises(OperationalExchangeError) as raised:
        fresh.submit(buy("refused"))
    # then the key really went over the wire and was really logged, but only masked
    assert API_KEY in fake.api_keys_seen
    assert "[REDACTED]" in caplog.text
    texts = [caplog.text, str(raised.value), repr(raised.value), str(raised.value.__cause__),
             *(f.reason for f in store.all())]
    for text in texts:
        assert API_KEY not in text
        assert SECRET not in text
    assert "AuthenticationError" in str(raised.value)
    assert store.get("refused").error_type == "operational"


def test_a_fee_paid_in_bnb_is_booked_at_its_value_in_the_quote():
    # given an account that pays commissions in BNB, worth 300 USDT
    with FakeBinanceSpot(now_ms=NOW, markets=[Market("BTC", "USDT"), Market("BNB", "USDT")],
                         balances={"USDT": "1000", "BNB": "1"}, commission_asset="BNB",
                         prices={"BTCUSDT": "42000", "BNBUSDT": "300"}) as bnb_fees:
        # when
        filled = executor(bnb_fees).submit(buy("bnb-fee"))
        # then the exchange took 0.0014 BNB and the engine booked 0.42 USDT
        assert bnb_fees.wallet("BNB")[0] == Decimal("0.9986")
        assert filled.fees == Decimal("0.42")
        assert bnb_fees.wallet("USDT")[0] == Decimal("580")


def test_order_placement_is_paced_by_the_token_bucket_and_ccxt_spacing_is_on(fake):
    # given an exchange built without ccxt's limiter, and a bucket of 2 orders refilling at 1/s
    exchange = binance(fake)
    exchange.enableRateLimit = False
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(capacity=2, rate_per_s=1.0, clock=lambda: now[0], sleep=sleep)
    ex = CcxtExecutor(exchange, clock=SimulatedClock(NOW), order_bucket=bucket, retry=FAST_RETRY)
    # when four orders go out at once
    for n in range(4):
        ex.submit(buy(f"paced-{n}"))
    # then the last two waited for tokens, and ccxt spaces every request again
    assert waits == [pytest.approx(1.0), pytest.approx(1.0)]
    assert exchange.enableRateLimit is True
    assert len(fake.orders) == 4


def test_asking_after_an_order_on_every_tick_reads_the_exchange_once_per_interval(fake):
    # given a resting order, looked at once
    clock = SimulatedClock(NOW)
    ex = executor(fake, clock=clock)
    ex.submit(buy("watched", price="41000"))
    assert ex.fetch_order("watched").status is OrderStatus.SUBMITTED
    reads = len(fake.requests_to("/api/v3/openOrders"))
    # when it fills at the exchange and is asked after again within the interval
    fake.fill_resting("watched")
    clock.advance_by(ex.sync_interval_ms - 1)
    assert ex.fetch_order("watched").status is OrderStatus.SUBMITTED
    assert len(fake.requests_to("/api/v3/openOrders")) == reads
    # then the next look after the interval sees the fill
    clock.advance_by(1)
    assert ex.fetch_order("watched").status is OrderStatus.FILLED
    # and a dead exchange leaves the last known state rather than breaking the loop
    fake.inject_order_fault("GET openOrders", *[OrderFault.server_error(503)] * 4)
    ex.submit(buy("watched-2", price="41000"))
    clock.advance_by(ex.sync_interval_ms)
    assert ex.fetch_order("watched-2").status is OrderStatus.SUBMITTED
