"""Self-tuning grid: swings, spacing, levels, activation, round trips."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tests.market_data import load_bars
from trading.engine.orders import (
    Grid,
    LevelState,
    OrderSide,
    average_swing,
    self_tuned_spacing,
    swing_points,
)


def zigzag(levels: list[float], leg: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Bars moving linearly between `levels`, `leg` bars per leg, 0.1% bar range."""
    closes = np.concatenate(
        [np.linspace(a, b, leg, endpoint=False) for a, b in zip(levels, levels[1:], strict=False)]
        + [np.array([levels[-1]])]
    )
    return closes * 1.0005, closes * 0.9995


def test_swing_points_find_the_alternating_turns():
    # given a market going 100 -> 110 -> 95 -> 105 -> 100
    high, low = zigzag([100, 110, 95, 105, 100])
    # when swings are detected with a 3-bar window
    points = swing_points(high, low, window=3)
    # then the three inner turns are found, alternating high / low
    prices = [round(p, 2) for _, p in points]
    assert prices == [round(110 * 1.0005, 2), round(95 * 0.9995, 2), round(105 * 1.0005, 2)]
    assert [i for i, _ in points] == [6, 12, 18]


def test_a_swing_is_only_confirmed_by_later_bars():
    # given swings found on the full history
    high, low = zigzag([100, 110, 95, 105, 100, 108])
    full = swing_points(high, low, window=3)
    # when the same history is cut short
    for cut in range(10, len(high)):
        truncated = swing_points(high[:cut], low[:cut], window=3)
        # then every pivot found on less data is also found on more (no lookahead)
        assert all(p in full for p in truncated[:-1])
        assert all(i <= cut - 1 - 3 for i, _ in truncated)


def test_spacing_is_thirty_percent_of_the_average_swing():
    high, low = zigzag([100, 110, 95, 105, 100])
    swing = average_swing(high, low, window=3)
    # swings 110->95 (-13.6%) and 95->105 (+10.5%)
    assert swing == pytest.approx((abs(94.9525 / 110.055 - 1) + abs(105.0525 / 94.9525 - 1)) / 2)
    assert self_tuned_spacing(high, low, window=3) == pytest.approx(0.3 * swing)


def test_spacing_is_clamped_between_half_and_five_percent():
    calm_high, calm_low = zigzag([100, 100.5, 100, 100.5, 100])
    wild_high, wild_low = zigzag([100, 200, 80, 190, 90])
    assert self_tuned_spacing(calm_high, calm_low, window=3) == 0.005
    assert self_tuned_spacing(wild_high, wild_low, window=3) == 0.05
    assert self_tuned_spacing(np.ones(4), np.ones(4)) == 0.015  # too short: default


def test_on_real_btc_the_spacing_is_wider_in_a_crash_month_than_in_a_calm_one():
    crash = load_bars("BTCUSDT", "1h", start="2022-06-01", end="2022-07-01")
    calm = load_bars("BTCUSDT", "1h", start="2022-10-01", end="2022-11-01")
    crash_spacing = self_tuned_spacing(crash.high, crash.low)
    calm_spacing = self_tuned_spacing(calm.high, calm.low)
    assert 0.005 <= calm_spacing < crash_spacing <= 0.05
    assert crash_spacing > 1.5 * calm_spacing


def test_build_puts_geometric_buys_below_and_sells_above():
    grid = Grid.build(100, 0.01, 3, tick_size=Decimal("0.01"))
    prices = [lvl.price for lvl in grid.levels]
    assert prices == [
        Decimal(p) for p in ["97.05", "98.02", "99.00", "100.00", "101.00", "102.01", "103.03"]
    ]
    assert [lvl.side for lvl in grid.levels[:3]] == [OrderSide.BUY] * 3
    assert all(lvl.state is LevelState.IDLE for lvl in grid.levels)
    with pytest.raises(ValueError):
        Grid.build(100, 0.001, 3)


def test_only_levels_near_the_price_are_activated():
    # given a 2% grid of 5 levels a side and a 5% activation window
    grid = Grid.build(100, 0.02, 5)
    # when activated at 100
    update = grid.activate_near(100)
    # then levels -2..2 (within 5%) are active, the center (at the price) is not
    assert sorted(lvl.index for lvl in update.activated) == [-2, -1, 1, 2]
    assert all(
        lvl.side is (OrderSide.BUY if lvl.index < 0 else OrderSide.SELL) for lvl in update.activated
    )
    # and when the price moves up 4%, the far buys idle and new sells arm
    moved = update.grid.activate_near(104)
    assert sorted(lvl.index for lvl in moved.deactivated) == [-2, -1]
    assert sorted(lvl.index for lvl in moved.activated) == [0, 3, 4]
    assert moved.grid.level(0).side is OrderSide.BUY  # below 104 now


def test_a_filled_buy_arms_a_sell_one_level_up_and_back():
    grid = Grid.build(100, 0.02, 3).activate_near(100).grid
    after_buy = grid.on_fill(-1)
    assert after_buy.grid.level(-1).state is LevelState.FILLED
    (sell,) = after_buy.activated
    assert (sell.index, sell.side, sell.state) == (0, OrderSide.SELL, LevelState.ACTIVE)
    after_sell = after_buy.grid.on_fill(0)
    (buy,) = after_sell.activated
    assert (buy.index, buy.side) == (-1, OrderSide.BUY)
    with pytest.raises(ValueError, match="not ACTIVE"):
        after_sell.grid.on_fill(3)


def test_recenter_and_retune_signals():
    grid = Grid.build(100, 0.01, 2)
    assert not grid.needs_recenter(101) and grid.needs_recenter(103) and grid.needs_recenter(97)
    assert not grid.should_retune(0.011) and grid.should_retune(0.02)
