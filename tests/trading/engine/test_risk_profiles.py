"""Risk profiles derived from symbols, capital, tolerance and market statistics."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.market_data import load_bars
from trading.engine.risk_profiles import (
    DEFAULT_TAKE_PROFITS,
    MarketStats,
    RiskProfile,
    TakeProfitTier,
    TrailWidths,
)
from trading.engine.strategy import ParameterError

NORMAL = MarketStats(price=30_000, daily_volatility=0.03, avg_swing=0.04, avg_bar_volume=1_000)


def profile(tolerance: str, stats: MarketStats = NORMAL, **overrides) -> RiskProfile:
    return RiskProfile.derive(tolerance, 10_000, stats, overrides, symbols=["BTCUSDT"])


def test_thresholds_and_limits_differ_by_tolerance():
    # given the three tolerances in the same market
    c, m, a = profile("conservative"), profile("moderate"), profile("aggressive")
    # then the more tolerant profile trades on less confidence and accepts more risk
    assert (c.min_buy_confidence, m.min_buy_confidence, a.min_buy_confidence) == (0.7, 0.6, 0.5)
    assert c.min_sell_confidence > m.min_sell_confidence > a.min_sell_confidence
    assert c.max_drawdown < m.max_drawdown < a.max_drawdown
    assert c.daily_loss_limit < m.daily_loss_limit < a.daily_loss_limit
    assert c.base_position_fraction < m.base_position_fraction < a.base_position_fraction
    assert c.risk_per_trade < m.risk_per_trade < a.risk_per_trade
    # max positions = drawdown budget / 5% per position
    assert (c.max_positions, m.max_positions, a.max_positions) == (2, 3, 5)
    # conservative trails are the widest (fewer whipsaws)
    assert c.trail_distance > m.trail_distance > a.trail_distance
    assert c.symbols == ("BTCUSDT",) and c.capital == 10_000


def test_volatility_shrinks_positions_and_widens_trails():
    wild = dataclasses.replace(NORMAL, daily_volatility=0.06)
    normal, volatile = profile("moderate"), profile("moderate", wild)
    assert volatile.base_position_fraction < normal.base_position_fraction
    assert volatile.trail_distance == pytest.approx(2 * normal.trail_distance)
    assert volatile.trail_widths.volatile > volatile.trail_widths.trending
    assert volatile.trail_widths.calm < volatile.trail_widths.ranging


def test_trail_widths_follow_the_reference_multiples():
    widths = profile("moderate").trail_widths
    base = profile("moderate").trail_distance
    assert widths == TrailWidths(1.5 * base, 0.7 * base, 2.0 * base, 0.5 * base)
    assert widths.for_state("volatile") == pytest.approx(2.0 * base)
    with pytest.raises(ValueError):
        widths.for_state("sleepy")


def test_grid_spacing_is_thirty_percent_of_the_swing_clamped():
    assert profile("moderate").grid_spacing == pytest.approx(0.012)
    tiny = dataclasses.replace(NORMAL, avg_swing=0.001)
    huge = dataclasses.replace(NORMAL, avg_swing=0.9)
    assert profile("moderate", tiny).grid_spacing == 0.005
    assert profile("moderate", huge).grid_spacing == 0.05


def test_exit_defaults():
    p = profile("moderate")
    assert p.take_profits == DEFAULT_TAKE_PROFITS
    assert [(t.gain, t.fraction) for t in p.take_profits] == [
        (0.15, 0.33),
        (0.3, 0.33),
        (0.6, 0.34),
    ]
    assert p.max_stop_loss == 0.15
    assert p.time_stop_ms == 48 * 3_600_000


def test_every_field_can_be_overridden():
    p = profile(
        "moderate",
        min_buy_confidence=0.8,
        max_positions=7,
        take_profits=[(0.05, 0.5, "quick"), {"gain": 0.1, "fraction": 0.5}],
        trail_widths={"trending": 0.03, "ranging": 0.01, "volatile": 0.04, "calm": 0.005},
    )
    assert p.min_buy_confidence == 0.8 and p.max_positions == 7
    assert p.take_profits == (TakeProfitTier(0.05, 0.5, "quick"), TakeProfitTier(0.1, 0.5))
    assert p.trail_widths.calm == 0.005


def test_bad_overrides_name_each_bad_field():
    with pytest.raises(ParameterError) as unknown:
        profile("moderate", leverage=10)
    assert "leverage" in unknown.value.errors
    with pytest.raises(ParameterError) as bad:
        profile("moderate", min_buy_confidence=1.5)
    assert "min_buy_confidence" in bad.value.errors
    with pytest.raises(ParameterError) as stop:
        profile("moderate", max_stop_loss=0.2)
    assert "max_stop_loss" in stop.value.errors
    with pytest.raises(ParameterError) as tiers:
        profile("moderate", take_profits=[(0.3, 0.6), (0.1, 0.6)])
    assert "take_profits" in tiers.value.errors
    with pytest.raises(ParameterError) as kind:
        profile("moderate", max_positions="three")
    assert "max_positions" in kind.value.errors


def test_tolerance_and_capital_are_checked():
    with pytest.raises(ParameterError, match="tolerance"):
        RiskProfile.derive("yolo", 10_000, NORMAL)
    with pytest.raises(ParameterError, match="capital"):
        RiskProfile.derive("moderate", -5, NORMAL)


def test_small_capital_respects_the_exchange_minimum():
    # given 200 USDT and a 10 USDT minimum order: the base size is raised to tradable
    stats = dataclasses.replace(NORMAL, min_notional=10.0)
    p = RiskProfile.derive("conservative", 200, stats)
    assert p.base_position_fraction * 200 >= 10.0
    # and capital that cannot place even the largest position is refused
    with pytest.raises(ParameterError, match="too small"):
        RiskProfile.derive("conservative", 50, stats)


def test_market_stats_from_real_btc_bars():
    bars = load_bars("BTCUSDT", "1h", start="2022-01-01", end="2022-03-01")
    stats = MarketStats.from_bars(bars, min_notional=10)
    assert 0.01 < stats.daily_volatility < 0.08
    assert 0.005 < stats.avg_swing < 0.2
    assert stats.price == bars.close[-1] and stats.timeframe == "1h"
    derived = RiskProfile.derive("moderate", 10_000, stats)
    assert derived.derived_from["daily_volatility"] == stats.daily_volatility


def test_profile_is_frozen_and_json_ready():
    p = profile("aggressive")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.max_positions = 99  # type: ignore[misc]
    data = json.loads(json.dumps(p.as_dict()))
    assert data["tolerance"] == "aggressive" and data["take_profits"][0]["gain"] == 0.15
