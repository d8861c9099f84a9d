"""Trailing buy and sell orders."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.market_data import load_bars
from trading.engine.feeds import Candle, intrabar_path
from trading.engine.orders import (
    TRAIL_BOUNDS,
    OrderSide,
    TrailingOrder,
    TrailingStatus,
    volatility_scaled_trail,
)


def trailing(side: OrderSide, price: float = 100.0, trail: float = 0.02, **kwargs) -> TrailingOrder:
    return TrailingOrder(
        side=side, quantity="0.5", trail=trail, price=price, created_ms=0, **kwargs
    )


def test_a_trailing_sell_follows_the_high_and_fires_on_the_retrace():
    # given a 2% trailing sell created at 100
    order = trailing(OrderSide.SELL)
    # when the price rises to 110, the trigger follows it
    for ts, price in enumerate([101.0, 105.0, 110.0], start=1):
        assert order.on_price(price, ts) is None
    assert order.best_price == 110.0
    assert order.trigger_price == pytest.approx(107.8)
    # and a pullback smaller than the trail does nothing
    assert order.on_price(108.0, 4) is None
    # then crossing the trigger fires once, reporting the crossing price
    trigger = order.on_price(107.5, 5)
    assert trigger is not None
    assert (trigger.price, trigger.best_price, trigger.side) == (107.5, 110.0, OrderSide.SELL)
    assert trigger.trigger_price == pytest.approx(107.8)
    assert trigger.quantity == Decimal("0.5")
    assert order.status is TrailingStatus.TRIGGERED
    assert order.on_price(90.0, 6) is None


def test_a_trailing_buy_follows_the_low_and_fires_on_the_rebound():
    order = trailing(OrderSide.BUY)
    for ts, price in enumerate([98.0, 95.0, 96.0, 96.8], start=1):
        assert order.on_price(price, ts) is None
    assert order.best_price == 95.0
    assert order.trigger_price == pytest.approx(96.9)
    trigger = order.on_price(97.0, 5)
    assert trigger is not None and trigger.side is OrderSide.BUY
    assert order.improvements == 2  # 98 then 95


def test_min_improvement_throttles_trigger_moves():
    # given a sell that only moves its trigger on >= 1% improvements
    order = trailing(OrderSide.SELL, trail=0.05, min_improvement=0.01)
    # when the price creeps up by less than 1% at a time
    for ts, price in enumerate([100.5, 100.9, 101.2], start=1):
        order.on_price(price, ts)
    # then the trigger only moved once the best improved by 1%
    assert order.best_price == 101.2
    assert order.improvements == 1
    order.on_price(101.5, 4)
    assert order.best_price == 101.2


def test_activation_price_delays_the_trail():
    # given a trailing buy that only starts once the price is 2% below the start
    order = trailing(OrderSide.BUY, activation_price=98.0)
    assert order.status is TrailingStatus.WAITING and order.trigger_price is None
    # when the price rises first, nothing happens even above any trail
    assert order.on_price(105.0, 1) is None
    # then after activation it trails from the activation price
    assert order.on_price(97.5, 2) is None
    assert order.status is TrailingStatus.TRACKING and order.best_price == 97.5
    assert order.on_price(99.5, 3) is not None


def test_it_expires_after_its_max_duration_and_never_fires_after():
    order = trailing(OrderSide.SELL, max_duration_ms=1_000)
    order.on_price(110.0, 500)
    assert order.on_price(50.0, 1_000) is None
    assert order.status is TrailingStatus.EXPIRED and not order.is_active


def test_snapshot_and_restore_continue_the_same_trail():
    # given an order that has tracked some prices
    order = trailing(OrderSide.SELL, max_duration_ms=10_000)
    order.on_price(120.0, 1)
    # when it is restored from a checkpoint
    restored = TrailingOrder.restore(order.snapshot())
    # then both behave identically
    for ts, price in enumerate([119.0, 125.0, 122.0], start=2):
        assert order.on_price(price, ts) == restored.on_price(price, ts)
    assert restored.snapshot() == order.snapshot()


def test_retrail_and_cancel():
    order = trailing(OrderSide.SELL)
    order.on_price(110.0, 1)
    order.retrail(0.05, 2)
    assert order.trigger_price == pytest.approx(104.5)
    order.cancel(3)
    assert order.status is TrailingStatus.CANCELLED and order.on_price(50.0, 4) is None
    with pytest.raises(ValueError, match="CANCELLED"):
        order.retrail(0.01, 5)


@pytest.mark.parametrize(
    "bad",
    [
        {"trail": 0.0},
        {"trail": 1.0},
        {"price": float("nan")},
        {"price": -1.0},
        {"max_duration_ms": 0},
    ],
)
def test_it_refuses_bad_parameters(bad):
    with pytest.raises(ValueError):
        trailing(OrderSide.SELL, **bad)


def test_a_bad_price_is_refused_not_tracked():
    order = trailing(OrderSide.SELL)
    with pytest.raises(ValueError):
        order.on_price(float("nan"), 1)
    assert order.best_price == 100.0


prices = st.lists(st.floats(min_value=1.0, max_value=1_000.0), min_size=1, max_size=60)


@settings(max_examples=100, deadline=None)
@given(prices, st.sampled_from([OrderSide.BUY, OrderSide.SELL]), st.floats(0.001, 0.3))
def test_trigger_only_moves_in_the_traders_favour_and_fires_at_the_first_crossing(
    path, side, trail
):
    # given a trailing order with no throttling
    order = trailing(side, price=path[0], trail=trail)
    triggers, previous = [], order.trigger_price
    for ts, price in enumerate(path[1:], start=1):
        fired = order.on_price(price, ts)
        if fired:
            triggers.append((ts, fired))
        elif order.is_active:
            # then the trigger never moves against the trader
            current = order.trigger_price
            assert current <= previous if side is OrderSide.BUY else current >= previous
            previous = current
    # and it fires exactly where an independent running extreme says it should
    seen = np.array(path)
    best = np.minimum.accumulate(seen) if side is OrderSide.BUY else np.maximum.accumulate(seen)
    level = best * (1 + trail) if side is OrderSide.BUY else best * (1 - trail)
    crossed = seen >= level if side is OrderSide.BUY else seen <= level
    crossed[0] = False
    expected = int(np.argmax(crossed)) if crossed.any() else None
    assert [ts for ts, _ in triggers] == ([] if expected is None else [expected])


def test_on_real_btc_bars_a_trailing_sell_fires_where_the_running_high_retraces():
    # given 2022 BTC 1h bars walked tick by tick along the intra-bar path
    bars = load_bars("BTCUSDT", "1h", start="2022-03-01", end="2022-06-01")
    ticks = [t for i in range(len(bars)) for t in intrabar_path(Candle.from_bars(bars, i))]
    prices = np.array([t.price for t in ticks])
    # when a 5% trailing sell starts at the first price
    order = trailing(OrderSide.SELL, price=float(prices[0]), trail=0.05)
    fired_at = next(i for i, t in enumerate(ticks[1:], 1) if order.on_price(t.price, t.ts_ms))
    # then it fires at the first tick 5% below the running high (computed independently)
    running_high = np.maximum.accumulate(prices)
    first = int(np.argmax(prices[1:] <= running_high[1:] * 0.95)) + 1
    assert fired_at == first


def test_volatility_scaled_trail_widens_with_volatility_and_illiquidity_within_bounds():
    calm = volatility_scaled_trail(0.01, 0.0, 1.0, TRAIL_BOUNDS["normal"])
    volatile = volatility_scaled_trail(0.01, 0.02, 1.0, TRAIL_BOUNDS["normal"])
    illiquid = volatility_scaled_trail(0.01, 0.02, 0.5, TRAIL_BOUNDS["normal"])
    assert (calm, volatile, illiquid) == pytest.approx((0.01, 0.02, 0.03))
    assert volatility_scaled_trail(0.05, 0.1, 0.0, TRAIL_BOUNDS["calm"]) == 0.02
    assert volatility_scaled_trail(0.001, 0.0, 1.0, TRAIL_BOUNDS["volatile"]) == 0.02
