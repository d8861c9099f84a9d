"""Paper execution: spread, fees, slippage, participation, funds, idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.market_data import load_bars
from trading.engine.clock import SimulatedClock
from trading.engine.events import EngineEvent, EventBus, FillEvent, OrderEvent
from trading.engine.execution import (
    DuplicateClientOrderId,
    Executor,
    PaperCosts,
    PaperExecutor,
    UnknownOrder,
)
from trading.engine.feeds import Candle, Tick
from trading.engine.instruments import Instrument
from trading.engine.orders import ClientOrderIds, Liquidity, Order, OrderSide, OrderStatus
from trading.engine.portfolio import Portfolio

D = Decimal
T0 = 1_700_000_000_000
BTC = Instrument(
    "BTCUSDT", "BTC", "USDT", tick_size=D("0.01"), lot_size=D("0.001"), min_notional=D("5")
)
COSTS = PaperCosts(
    spread=D("0.001"),
    maker_fee=D("0.0005"),
    taker_fee=D("0.001"),
    slippage=D("0.0005"),
    impact=D("0.01"),
    max_participation=None,
)


def executor(usdt="100000", btc="0", costs=COSTS, **kwargs) -> PaperExecutor:
    return PaperExecutor(
        instruments=[BTC],
        balances={"USDT": usdt, "BTC": btc},
        clock=SimulatedClock(T0),
        costs=costs,
        **kwargs,
    )


def order(cid="o1", side=OrderSide.BUY, qty="0.5", price=None, **kwargs) -> Order:
    return Order.create(
        client_order_id=cid,
        symbol="BTCUSDT",
        side=side,
        quantity=D(qty),
        created_ms=T0,
        limit_price=None if price is None else D(price),
        **kwargs,
    )


def tick(price: float, ts: int = T0, volume: float = float("inf")) -> Tick:
    return Tick("BTCUSDT", ts, price, volume)


def balance(ex: PaperExecutor, asset: str) -> tuple[Decimal, Decimal]:
    b = ex.balances()[asset]
    return b.free, b.used


def test_it_is_an_executor():
    assert isinstance(executor(), Executor)


def test_a_market_buy_fills_at_the_next_price_with_spread_slippage_and_taker_fee():
    # given a submitted market buy of 0.5 BTC
    ex = executor()
    placed = ex.submit(order())
    assert placed.status is OrderStatus.SUBMITTED and ex.open_orders() == [placed]
    # when the next price is 20,000
    (fill,) = ex.on_tick(tick(20_000.0))
    # then it fills at 20,000 * (1 + half spread 0.05% + slippage 0.05%), taker fee 0.1%
    assert (fill.price, fill.quantity, fill.liquidity) == (D("20020.00"), D("0.5"), Liquidity.TAKER)
    assert fill.fee == D("10.010")
    assert ex.fetch_order("o1").status is OrderStatus.FILLED and ex.open_orders() == []
    assert balance(ex, "USDT") == (D("100000") - D("10010") - D("10.010"), 0)
    assert balance(ex, "BTC") == (D("0.5"), 0)


def test_a_market_sell_fills_below_the_price():
    ex = executor(btc="1")
    ex.submit(order(side=OrderSide.SELL, qty="1"))
    (fill,) = ex.on_tick(tick(20_000.0))
    assert fill.price == D("19980.00")
    assert balance(ex, "USDT") == (D("100000") + D("19980") - D("19.98"), 0)
    assert balance(ex, "BTC") == (0, 0)


def test_fills_take_at_most_the_participation_share_of_volume_oldest_first():
    # given a 10% participation cap and two market buys
    ex = executor(
        costs=PaperCosts(
            spread=D("0.001"),
            taker_fee=D("0.001"),
            slippage=D("0.0005"),
            impact=D("0.01"),
            max_participation=D("0.1"),
        )
    )
    ex.submit(order("a", qty="3"))
    ex.submit(order("b", qty="1"))
    # when a price point with 20 BTC of volume arrives (capacity 2 BTC)
    first = ex.on_tick(tick(20_000.0, volume=20.0))
    # then only the oldest order fills, 2 BTC, paying impact for 10% participation
    assert [(f.client_order_id, f.quantity) for f in first] == [("a", D("2"))]
    assert first[0].price == D("20040.00")  # 0.05% + 0.05% + 0.01 * 0.1
    assert ex.fetch_order("a").status is OrderStatus.PARTIAL
    # and the remainder shares the next point
    second = ex.on_tick(tick(20_000.0, T0 + 1, volume=20.0))
    assert [(f.client_order_id, f.quantity) for f in second] == [("a", D("1")), ("b", D("1"))]
    assert {o.status for o in (ex.fetch_order("a"), ex.fetch_order("b"))} == {OrderStatus.FILLED}


def test_on_bar_fills_along_the_path_starting_at_the_open():
    # given a market buy of 25 and a 10% cap; bar volume 400 -> 100 per path point
    costs = PaperCosts(
        spread=D(0), taker_fee=D(0), slippage=D(0), impact=D(0), max_participation=D("0.1")
    )
    ex = executor(usdt="1000000", costs=costs)
    ex.submit(order(qty="25"))
    candle = Candle("BTCUSDT", "1h", T0, 100.0, 110.0, 95.0, 105.0, 400.0)
    # when the bullish bar is replayed (open, low, high, close)
    fills = ex.on_bar(candle)
    # then 10 fill at the open, 10 at the low and the last 5 at the high
    assert [(f.quantity, f.price) for f in fills] == [
        (D(10), D(100)),
        (D(10), D(95)),
        (D(5), D(110)),
    ]
    assert [f.ts_ms for f in fills] == [T0, T0 + 1_200_000, T0 + 2_400_000]


def test_a_resting_limit_buy_fills_as_maker_only_when_traded_through():
    ex = executor()
    ex.submit(order(price="19000", qty="1"))
    # while working it reserves qty * limit * (1 + worst fee)
    assert balance(ex, "USDT") == (D("100000") - D("19019"), D("19019"))
    assert ex.on_tick(tick(19_500.0)) == []  # not marketable: now resting
    assert ex.on_tick(tick(19_000.0, T0 + 1)) == []  # touched, not traded through
    (fill,) = ex.on_tick(tick(18_900.0, T0 + 2))
    assert (fill.price, fill.liquidity, fill.fee) == (D("19000"), Liquidity.MAKER, D("9.5"))
    assert balance(ex, "USDT") == (D("100000") - D("19000") - D("9.5"), 0)


def test_a_marketable_limit_takes_liquidity_but_never_beyond_its_limit():
    ex = executor()
    ex.submit(order("a", price="20100", qty="0.1"))
    ex.submit(order("b", price="20010", qty="0.1"))
    fills = ex.on_tick(tick(20_000.0))
    assert [(f.client_order_id, f.price, f.liquidity) for f in fills] == [
        ("a", D("20020.00"), Liquidity.TAKER),
        ("b", D("20010"), Liquidity.TAKER),
    ]


def test_submitting_the_same_order_twice_places_it_once():
    # given an order submitted, then retried after a timeout
    ex = executor()
    first = ex.submit(order(qty="0.5"))
    retry = ex.submit(order(qty="0.5"))
    # then the retry returns the known order and only one fill ever happens
    assert retry == first and len(ex.open_orders()) == 1
    assert len(ex.on_tick(tick(20_000.0))) == 1
    assert ex.submit(order(qty="0.5")).status is OrderStatus.FILLED
    assert balance(ex, "BTC") == (D("0.5"), 0)
    # and reusing the id for a different order is an error
    with pytest.raises(DuplicateClientOrderId):
        ex.submit(order(qty="0.7"))


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"price": "19000", "qty": "10"}, "insufficient USDT"),
        ({"side": OrderSide.SELL}, "insufficient BTC"),
        ({"qty": "0.0005"}, "multiple of the lot"),
        ({"price": "19000.005"}, "multiple of the tick"),
        ({"price": "19000", "qty": "0.0002"}, "multiple of the lot"),
        ({"price": "4000", "qty": "0.001"}, "below the minimum"),
    ],
)
def test_unfundable_or_invalid_orders_are_rejected_with_a_reason(kwargs, reason):
    ex = executor()
    rejected = ex.submit(order(**kwargs))
    assert rejected.status is OrderStatus.REJECTED
    assert reason in rejected.history[-1].reason
    assert ex.open_orders() == [] and balance(ex, "USDT") == (D("100000"), 0)
    assert ex.submit(order(**kwargs)) == rejected  # a retry does not try again


def test_an_unknown_symbol_is_rejected():
    ex = executor()
    other = Order.create(
        client_order_id="x", symbol="DOGEUSDT", side=OrderSide.BUY, quantity=D(1), created_ms=T0
    )
    assert "unknown symbol" in ex.submit(other).history[-1].reason


def test_short_sales_need_permission():
    ex = executor(allow_short=True)
    ex.submit(order(side=OrderSide.SELL, qty="1"))
    ex.on_tick(tick(20_000.0))
    assert balance(ex, "BTC") == (D("-1"), 0)
    assert balance(ex, "USDT")[0] == D("100000") + D("19980") - D("19.98")


def test_cancel_releases_the_reservation_and_is_idempotent():
    ex = executor(btc="2")
    ex.submit(order(side=OrderSide.SELL, qty="1.5", price="25000"))
    assert balance(ex, "BTC") == (D("0.5"), D("1.5"))
    cancelled = ex.cancel("o1")
    assert cancelled.status is OrderStatus.CANCELLED and balance(ex, "BTC") == (D("2"), 0)
    assert ex.cancel("o1") == cancelled
    assert ex.on_tick(tick(30_000.0)) == []
    with pytest.raises(UnknownOrder):
        ex.cancel("nope")


def test_orders_expire_at_their_deadline_and_free_their_funds():
    ex = executor()
    ex.submit(order(price="19000", expires_ms=T0 + 60_000))
    ex.on_tick(tick(19_500.0, T0 + 59_999))
    assert ex.on_tick(tick(18_000.0, T0 + 60_000)) == []
    assert ex.fetch_order("o1").status is OrderStatus.EXPIRED
    assert balance(ex, "USDT") == (D("100000"), 0)


def test_an_order_never_fills_against_a_price_seen_before_it_was_placed():
    ex = executor()
    ex.clock.advance_to(T0 + 5_000)  # type: ignore[attr-defined]
    ex.submit(order())
    assert ex.on_tick(tick(20_000.0, T0 + 4_999)) == []
    assert len(ex.on_tick(tick(20_000.0, T0 + 5_000))) == 1


def test_a_market_buy_is_capped_by_free_funds_and_the_rest_cancelled():
    # given 1,000 USDT and a market buy of 1 BTC placed before any price was seen
    ex = executor(usdt="1000")
    ex.submit(order(qty="1"))
    # when prices arrive
    (fill,) = ex.on_tick(tick(20_000.0))
    ex.on_tick(tick(20_000.0, T0 + 1))
    # then it bought what the cash pays for, and the remainder was cancelled
    assert fill.quantity == D("0.049")
    final = ex.fetch_order("o1")
    assert (
        final.status is OrderStatus.CANCELLED and final.history[-1].reason == "insufficient funds"
    )
    assert balance(ex, "USDT")[0] >= 0


def test_status_changes_and_fills_are_published_in_order():
    bus, seen = EventBus(), []
    bus.subscribe(EngineEvent, seen.append)
    ex = executor(bus=bus)
    ex.submit(order())
    ex.on_tick(tick(20_000.0))
    assert [(type(e).__name__, getattr(e, "status", None)) for e in seen] == [
        ("OrderEvent", "SUBMITTED"),
        ("FillEvent", None),
        ("OrderEvent", "FILLED"),
    ]
    assert isinstance(seen[1], FillEvent) and seen[1].price == D("20020.00")
    assert isinstance(seen[2], OrderEvent) and seen[2].previous_status == "SUBMITTED"


def place_next(ex: PaperExecutor, book: Portfolio, ids: ClientOrderIds, candle: Candle, step: int):
    """Cancel what is working, then buy 0.5 BTC when flat-ish, else sell all (market or limit)."""
    for working in ex.open_orders():
        ex.cancel(working.client_order_id)
    held = book.position("BTCUSDT").quantity
    buying = held < D("0.2")
    side, qty = (OrderSide.BUY, D("0.5")) if buying else (OrderSide.SELL, held)
    offset = 0.995 if buying else 1.005
    limit = None if step % 2 == 0 else D(str(round(candle.close * offset, 2)))
    placed = Order.create(
        client_order_id=ids.next(step),
        symbol="BTCUSDT",
        side=side,
        quantity=qty,
        created_ms=ex.clock.now_ms(),
        limit_price=limit,
    )
    return ex.submit(placed)


def test_on_real_bars_exchange_balances_reconcile_with_the_portfolio():
    # given 600 real hourly BTC bars, a paper executor and a portfolio fed its fills
    bars = load_bars("BTCUSDT", "1h", start="2022-05-01", end="2022-05-26")
    clock = SimulatedClock(int(bars.timestamps[0]))
    costs = PaperCosts(max_participation=D("0.0005"))
    ex = PaperExecutor(instruments=[BTC], balances={"USDT": "100000"}, clock=clock, costs=costs)
    book, ids, trades, fills, statuses = Portfolio("100000"), ClientOrderIds("rec"), [], [], []
    for i in range(len(bars)):
        candle = Candle.from_bars(bars, i)
        clock.advance_to(candle.open_ms)
        for fill in ex.on_bar(candle):
            # then every fill lies within the bar's range moved by at most the taker costs
            assert D(candle.low) * D("0.99") <= fill.price <= D(candle.high) * D("1.01")
            fills.append(fill)
            trades.append(book.apply(fill))
        clock.advance_to(candle.ts_ms)
        if i % 6 == 0:
            statuses.append(place_next(ex, book, ids, candle, i // 6).status)
    # when everything is booked, the scenario exercised partial fills and round trips
    assert sum(t is not None for t in trades) >= 20
    assert len(fills) > len(statuses) and OrderStatus.REJECTED not in statuses
    # and the venue's balances equal our books exactly
    working_base = sum(o.remaining_quantity for o in ex.open_orders() if o.side is OrderSide.SELL)
    assert ex.balances()["BTC"].total == book.position("BTCUSDT").quantity
    assert ex.balances()["BTC"].used == working_base
    assert ex.balances()["USDT"].total == book.cash
    assert sum(f.fee for f in fills) == book.fees


def test_a_reduce_only_order_may_not_open_or_flip_a_position():
    ex = executor(btc="0.3", allow_short=True)
    too_big = ex.submit(order("a", side=OrderSide.SELL, qty="0.5", reduce_only=True))
    assert (
        too_big.status is OrderStatus.REJECTED
        and "exceeds the 0.3 held" in too_big.history[-1].reason
    )
    assert ex.submit(order("b", side=OrderSide.SELL, qty="0.3", reduce_only=True)).status is (
        OrderStatus.SUBMITTED
    )
    assert (
        ex.submit(order("c", side=OrderSide.BUY, reduce_only=True)).status is OrderStatus.REJECTED
    )


def test_after_a_restart_resumed_orders_keep_filling_without_duplicates():
    # given a limit sell partly filled and a finished buy, saved at a checkpoint
    costs = PaperCosts(max_participation=D("0.1"))
    before = executor(btc="5", costs=costs)
    before.submit(order("buy", qty="0.1"))
    before.submit(order("sell", side=OrderSide.SELL, qty="3", price="21000"))
    first = before.on_tick(tick(21_500.0, volume=20.0))
    saved = [before.fetch_order("buy"), before.fetch_order("sell")]
    totals = {a: b.total for a, b in before.balances().items()}
    assert saved[1].status is OrderStatus.PARTIAL
    # when a new executor resumes from the checkpoint
    after = executor(usdt=str(totals["USDT"]), btc=str(totals["BTC"]), costs=costs)
    after.resume(saved)
    # then the working order's funds are reserved again and it keeps filling
    assert after.balances() == before.balances()
    later = after.on_tick(tick(21_600.0, T0 + 10, volume=20.0))
    assert [f.trade_id for f in first + later] == ["buy-1", "sell-1", "sell-2"]
    assert after.fetch_order("sell").filled_quantity == D("3")
    # and a retried submit of the finished buy is not placed again
    assert after.submit(order("buy", qty="0.1")) == saved[0] and after.open_orders() == []
