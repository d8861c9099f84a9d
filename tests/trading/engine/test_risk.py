"""Pre-order risk checks, circuit breakers and the emergency stop."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.engine.clock import DAY_MS, SimulatedClock
from trading.engine.execution import PaperCosts, PaperExecutor
from trading.engine.feeds import Tick
from trading.engine.instruments import Instrument
from trading.engine.orders import ClientOrderIds, Fill, Order, OrderSide, OrderStatus
from trading.engine.portfolio import ClosedTrade, Portfolio
from trading.engine.risk import (
    BreakerAction,
    CircuitBreaker,
    MarketSnapshot,
    OrderIntent,
    RiskGuard,
    RiskLimits,
    SessionState,
    Trip,
    emergency_stop,
)

D = Decimal
DAY0 = 19_000 * DAY_MS  # a UTC midnight
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def market(ts: int = DAY0 + 3_600_000, **prices: str) -> MarketSnapshot:
    return MarketSnapshot(ts, {k: D(v) for k, v in (prices or {"BTC": "20000"}).items()})


def intent(side=BUY, qty="0.01", price="20000", symbol="BTC", **kw) -> OrderIntent:
    return OrderIntent(symbol, side, D(qty), D(price), **kw)


def holding(qty: str, price: str = "20000", symbol: str = "BTC", cash: str = "10000"):
    book = Portfolio(cash)
    side = BUY if D(qty) > 0 else SELL
    book.apply(Fill("seed", symbol, side, abs(D(qty)), D(price), D(0), DAY0))
    return book


def loss(ts: int, pnl: str = "-10") -> ClosedTrade:
    return ClosedTrade("BTC", "LONG", ts - 1, ts, D(1), D(100), D(100), D(pnl), D(0))


def test_a_modest_order_is_approved_and_every_check_is_listed():
    guard = RiskGuard()
    verdict = guard.check(intent(), Portfolio("10000"), market())
    assert verdict.approved and verdict.failed == () and verdict.tripped == ()
    assert {c.name for c in verdict.checks} == {
        "session",
        "position_size",
        "concurrent_positions",
        "exposure",
        "slippage",
        "drawdown",
        "daily_loss",
        "daily_trades",
    }
    assert guard.trades_today == 1


def test_an_oversized_position_is_refused_without_pausing_the_session():
    guard = RiskGuard()
    verdict = guard.check(intent(qty="0.2"), Portfolio("10000"), market())
    assert not verdict.approved
    assert verdict.reason == "position size 0.4 exceeds the limit 0.25"
    assert guard.state(DAY0 + 3_600_000) is SessionState.ACTIVE and guard.trades_today == 0


def test_concurrent_positions_and_exposure_are_limited():
    guard = RiskGuard(
        RiskLimits(max_concurrent_positions=2, max_exposure=0.5, max_position_fraction=0.5)
    )
    book = holding("0.1")  # 2,000 of BTC
    book.apply(Fill("e", "ETH", BUY, D("1"), D("2000"), D(0), DAY0))
    marks = market(BTC="20000", ETH="2000", SOL="100")
    third = guard.check(intent(symbol="SOL", qty="1", price="100"), book, marks)
    assert [c.name for c in third.failed] == ["concurrent_positions"]
    more_btc = guard.check(intent(qty="0.06"), book, marks)  # 4,000 + 3,200 > 50% of 10,000
    assert [c.name for c in more_btc.failed] == ["exposure"]
    assert guard.check(intent(qty="0.01"), book, marks).approved


def test_the_daily_trade_count_pauses_new_risk_until_the_next_utc_day():
    guard, book = RiskGuard(RiskLimits(max_daily_trades=3)), holding("0.05")
    # given three approved entries today
    assert all(guard.check(intent(), book, market()).approved for _ in range(3))
    # when a fourth is attempted
    fourth = guard.check(intent(), book, market())
    # then it is refused and the breaker pauses the session until midnight UTC
    assert [c.name for c in fourth.failed] == ["daily_trades"]
    (event,) = fourth.tripped
    assert (event.breaker, event.action, event.resume_at_ms) == (
        "daily_trades",
        "PAUSE",
        DAY0 + DAY_MS,
    )
    assert guard.state(DAY0 + 7_200_000) is SessionState.PAUSED
    # and exits still go through while paused
    assert guard.check(intent(SELL, qty="0.05"), book, market()).approved
    # and the next day trading resumes on its own, recorded as a RESUME event
    assert guard.check(intent(), book, market(DAY0 + DAY_MS + 60_000)).approved
    assert [e.action for e in guard.breaker.events] == ["PAUSE", "RESUME"]


def test_max_drawdown_trips_and_only_exits_pass_until_an_operator_resumes():
    guard = RiskGuard(RiskLimits(daily_loss_limit=1.0, max_position_fraction=1.0))
    book = holding("0.25")  # 5,000 cash + 0.25 BTC
    guard.observe(book, market(BTC="20000"))  # peak 10,000
    # when BTC falls to 13,000: equity 8,250, a 17.5% drawdown
    verdict = guard.check(intent(qty="0.01", price="13000"), book, market(BTC="13000"))
    assert not verdict.approved and verdict.tripped[0].breaker == "max_drawdown"
    assert verdict.tripped[0].value == pytest.approx(0.175)
    assert "session paused (max_drawdown" in verdict.reason
    # then a sale that reduces the position is still allowed
    assert guard.check(intent(SELL, qty="0.1", price="13000"), book, market(BTC="13000")).approved
    # and the pause lasts (no automatic resumption) until the operator resumes
    later = market(DAY0 + 5 * DAY_MS, BTC="13000")
    assert guard.state(later.ts_ms) is SessionState.PAUSED
    guard.resume(later.ts_ms)
    assert guard.check(intent(qty="0.01", price="13000"), book, later).approved


def test_the_daily_loss_limit_pauses_until_the_next_day():
    guard = RiskGuard()
    book = holding("0.25")
    guard.observe(book, market(DAY0 + 1_000, BTC="20000"))  # day opens at 10,000
    tripped = guard.observe(book, market(DAY0 + 2_000, BTC="17600"))  # equity 9,400: -6%
    assert [e.breaker for e in tripped] == ["daily_loss"]
    assert guard.state(DAY0 + 3_000) is SessionState.PAUSED
    next_day = market(DAY0 + DAY_MS + 1_000, BTC="17600")
    assert guard.observe(book, next_day) == [] and guard.daily_loss() == 0.0
    assert guard.state(next_day.ts_ms) is SessionState.ACTIVE


def test_consecutive_losses_trip_after_the_limit_and_a_win_resets_the_streak():
    guard = RiskGuard()
    assert guard.record_closed_trade(loss(1)) is None
    assert guard.record_closed_trade(loss(2)) is None
    assert guard.record_closed_trade(loss(3, pnl="5")) is None  # a win
    events = [guard.record_closed_trade(loss(ts)) for ts in (4, 5, 6)]
    assert events[:2] == [None, None] and events[2] is not None
    assert events[2].breaker == "consecutive_losses" and guard.state(7) is SessionState.PAUSED


def test_slippage_breaker_and_price_drift_check():
    guard = RiskGuard()
    assert guard.record_execution(SELL, D("100"), D("97.5"), 1) is None
    event = guard.record_execution(BUY, D("100"), D("104"), 2)
    assert event is not None and event.value == pytest.approx(0.04)
    drift = RiskGuard().check(intent(price="19000"), Portfolio("10000"), market(BTC="20000"))
    assert [c.name for c in drift.failed] == ["slippage"]


def test_it_fails_closed_without_prices():
    verdict = RiskGuard().check(intent(symbol="ETH"), holding("0.1"), market())
    assert not verdict.approved and verdict.reason == "no current price for ETH"


def test_a_breaker_trips_once_and_records_its_reason():
    breaker = CircuitBreaker()
    trip = Trip("slippage", BreakerAction.PAUSE, "fill 4% worse", 10, 0.04, 0.03)
    assert breaker.trip(trip) is not None and breaker.trip(trip) is None
    assert len(breaker.events) == 1 and breaker.events[0].reason == "fill 4% worse"
    assert breaker.resume(20)[0].action == "RESUME"
    assert breaker.state(21) is SessionState.ACTIVE


def test_limits_are_validated():
    with pytest.raises(ValueError, match="max_drawdown"):
        RiskLimits(max_drawdown=0.0)
    with pytest.raises(ValueError, match="max_daily_trades"):
        RiskLimits(max_daily_trades=0)


def test_emergency_stop_halts_cancels_and_flattens_exactly_once():
    # given a long position and a working limit order at a paper venue
    clock = SimulatedClock(DAY0)
    btc = Instrument("BTC", "XBT", "USDT", lot_size=D("0.001"))
    ex = PaperExecutor(
        instruments=[btc],
        balances={"USDT": "10000"},
        clock=clock,
        costs=PaperCosts(max_participation=None),
    )
    book, ids, guard = Portfolio("10000"), ClientOrderIds("s1"), RiskGuard()
    ex.submit(
        Order.create(
            client_order_id="entry", symbol="BTC", side=BUY, quantity=D("0.1"), created_ms=DAY0
        )
    )
    for fill in ex.on_tick(Tick("BTC", DAY0, 20_000.0)):
        book.apply(fill)
    ex.submit(
        Order.create(
            client_order_id="grid",
            symbol="BTC",
            side=BUY,
            quantity=D("0.1"),
            created_ms=DAY0,
            limit_price=D("19000"),
        )
    )
    # when the operator presses emergency stop
    report = emergency_stop(
        guard=guard, portfolio=book, executor=ex, ids=ids, reason="operator", ts_ms=DAY0
    )
    # then the session halts, the working order is cancelled and a flatten order placed
    assert report.event is not None and report.event.action == "HALT"
    assert [o.client_order_id for o in report.cancelled] == ["grid"]
    (flatten,) = report.flatten_orders
    assert (flatten.side, flatten.quantity, flatten.reduce_only) == (SELL, D("0.1"), True)
    assert guard.state(DAY0) is SessionState.HALTED
    # and pressing it again before the fill places nothing new
    again = emergency_stop(
        guard=guard, portfolio=book, executor=ex, ids=ids, reason="operator", ts_ms=DAY0 + 1
    )
    assert again.event is None and again.flatten_orders == () and again.cancelled == ()
    # and once filled the books are flat; new risk is refused, exits are not
    for fill in ex.on_tick(Tick("BTC", DAY0 + 2, 20_000.0)):
        book.apply(fill)
    assert not book.open_positions
    assert ex.fetch_order(flatten.client_order_id).status is OrderStatus.FILLED
    assert not guard.check(intent(), book, market(DAY0 + 3)).approved


def test_a_restored_guard_remembers_its_peak_streak_and_trips():
    # given a guard with a peak, a loss streak of 2 and a paused session
    guard = RiskGuard()
    guard.observe(holding("0.25"), market(BTC="20000"))
    guard.record_closed_trade(loss(DAY0 + 1))
    guard.record_closed_trade(loss(DAY0 + 2))
    guard.record_execution(BUY, D("100"), D("110"), DAY0 + 3)
    # when it is restored from its snapshot
    restored = RiskGuard(guard.limits, guard.snapshot(DAY0 + 4))
    # then the pause holds, the peak is kept and one more loss trips the streak
    assert restored.state(DAY0 + 5) is SessionState.PAUSED
    assert restored.peak_equity == D("10000") and restored.consecutive_losses == 2
    event = restored.record_closed_trade(loss(DAY0 + 6))
    assert event is not None and event.breaker == "consecutive_losses"
