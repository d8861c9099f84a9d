"""Decisions: thresholds by profile, sizing limits, lot rounding, exit plans, skip records."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from types import MappingProxyType

import pytest

from trading.engine.agents import AgentAction, AgentSignal
from trading.engine.consensus import Consensus
from trading.engine.decision import (
    DecisionAction,
    DecisionContext,
    LotRules,
    TradeStats,
    decide,
    kelly_fraction,
    plan_exit,
)
from trading.engine.risk_profiles import MarketStats, RiskProfile

BUY, SELL, HOLD = AgentAction.TRAIL_BUY, AgentAction.TRAIL_SELL, AgentAction.HOLD
STATS = MarketStats(price=20_000, daily_volatility=0.03, avg_swing=0.04, avg_bar_volume=1_000)
LOTS = LotRules(lot_size=Decimal("0.001"), min_qty=Decimal("0.001"), min_notional=Decimal(10))


def profile(tolerance: str = "moderate", **overrides) -> RiskProfile:
    return RiskProfile.derive(tolerance, 10_000, STATS, overrides)


def consensus(action: AgentAction, confidence: float, disagreement: float = 0.0) -> Consensus:
    return Consensus(
        action=action,
        confidence=confidence,
        trail_distance=0.015,
        disagreement=disagreement,
        conflict=0.0,
        conviction=MappingProxyType({}),
        participants=("a",),
        abstained=(),
        reasoning="test consensus",
    )


def context(**changes) -> DecisionContext:
    base = DecisionContext(
        timestamp_ms=1_700_000_000_000,
        symbol="BTCUSDT",
        price=20_000.0,
        equity=10_000.0,
        cash=10_000.0,
        lot_rules=LOTS,
        daily_volatility=0.02,
        avg_bar_volume=1_000.0,
    )
    return dataclasses.replace(base, **changes)


class TestThresholds:
    def test_the_same_signal_trades_for_some_profiles_only(self):
        # given a buy consensus at 0.65
        signal = consensus(BUY, 0.65)
        # when each profile decides
        outcomes = {
            t: decide(signal, context(), profile(t))
            for t in ("conservative", "moderate", "aggressive")
        }
        # then the conservative profile (0.70) skips and the others (0.60, 0.50) buy
        assert outcomes["conservative"].action is DecisionAction.SKIP
        assert "below the conservative buy threshold 0.7" in outcomes["conservative"].reasoning
        assert outcomes["moderate"].action is DecisionAction.TRAIL_BUY
        assert outcomes["aggressive"].action is DecisionAction.TRAIL_BUY
        assert outcomes["moderate"].threshold == 0.6

    def test_hold_is_a_recorded_skip(self):
        decision = decide(consensus(HOLD, 0.9), context(), profile())
        assert not decision.traded and decision.quantity == 0
        assert decision.reasons == ("consensus HOLD at 0.90", "agents advise HOLD", "skip")

    def test_too_much_disagreement_skips(self):
        decision = decide(consensus(BUY, 0.9, disagreement=0.95), context(), profile())
        assert decision.action is DecisionAction.SKIP and "disagreement 0.95" in decision.reasoning


class TestSizing:
    def test_size_is_the_base_size_scaled_by_confidence_and_rounded_down_to_the_lot(self):
        # given a moderate profile, confidence 0.66 vs threshold 0.60
        p = profile()
        decision = decide(consensus(BUY, 0.66), context(), p)
        # then base = equity x base fraction x 1.1, in whole lots of 0.001, rounded down
        expected_value = 10_000 * p.base_position_fraction * (0.66 / 0.60)
        assert decision.sizing.binding == "base"
        assert decision.sizing.limits["base"] == pytest.approx(expected_value)
        assert decision.quantity == Decimal("0.027")  # 550 / 20000 = 0.0275 -> 0.027
        assert decision.quantity % LOTS.lot_size == 0
        assert decision.quantity * 20_000 <= Decimal(repr(expected_value))

    def test_kelly_with_a_poor_record_limits_the_size(self):
        # given a record of 55% winners with equal wins and losses: f* = 0.10
        record = TradeStats(trades=50, win_rate=0.55, avg_win=0.02, avg_loss=0.02)
        p = profile(kelly_safety=0.25)
        decision = decide(consensus(BUY, 0.9), context(track_record=record), p)
        # then Kelly (10% x 0.25 safety = 2.5% of equity) binds
        assert kelly_fraction(0.55, 1.0) == pytest.approx(0.10)
        assert decision.sizing.binding == "kelly"
        assert decision.sizing.limits["kelly"] == pytest.approx(250.0)
        assert decision.quantity == Decimal("0.012")

    def test_a_losing_record_means_no_trade(self):
        record = TradeStats(trades=50, win_rate=0.3, avg_win=0.02, avg_loss=0.02)
        decision = decide(consensus(BUY, 0.9), context(track_record=record), profile())
        assert decision.action is DecisionAction.SKIP
        assert "f*=-0.400" in decision.reasoning

    def test_the_risk_limit_binds_when_the_stop_is_wide(self):
        # given a tiny risk budget: loss at the stop may be 0.1% of equity
        p = profile(risk_per_trade=0.001)
        decision = decide(consensus(BUY, 0.66), context(), p)
        stop = decision.exit_plan.stop_loss
        assert decision.sizing.binding == "risk"
        assert decision.sizing.limits["risk"] == pytest.approx(10_000 * 0.001 / stop)
        assert float(decision.quantity) * 20_000 * stop <= 10.0 + 1e-9

    def test_the_liquidity_cap_binds_in_a_thin_market(self):
        # given 2 BTC traded per bar: 1% participation = 0.02 BTC = 400 USDT
        decision = decide(consensus(BUY, 0.9), context(avg_bar_volume=2.0), profile())
        assert decision.sizing.binding == "liquidity"
        assert decision.sizing.limits["liquidity"] == pytest.approx(400.0)
        assert decision.quantity == Decimal("0.020")

    def test_cash_and_exposure_cap_the_size(self):
        assert decide(consensus(BUY, 0.9), context(cash=100.0), profile()).sizing.binding == "cash"
        busy = context(exposure=5_950.0)  # 60% max exposure leaves 50 USDT
        assert decide(consensus(BUY, 0.9), busy, profile()).sizing.binding == "exposure"

    def test_an_order_under_the_minimum_notional_is_a_skip_not_rounded_up(self):
        # given cash for one lot (20 USDT) where the exchange wants orders of 50 USDT
        rules = LotRules(Decimal("0.001"), min_notional=Decimal(50))
        decision = decide(consensus(BUY, 0.9), context(cash=30.0, lot_rules=rules), profile())
        assert decision.action is DecisionAction.SKIP and decision.quantity == 0
        assert "order value 20.00 is under the minimum 50" in decision.reasoning
        dust = decide(consensus(BUY, 0.9), context(cash=9.0), profile())
        assert "rounds down to zero lots" in dust.reasoning

    def test_lot_rounding_never_rounds_up(self):
        rules = LotRules(Decimal("0.01"))
        assert rules.round_down(0.0299999) == Decimal("0.02")
        assert rules.round_down(0.03) == Decimal("0.03")
        assert rules.round_down(-1.0) == 0


class TestExitPlan:
    def test_default_take_profit_tiers(self):
        plan = decide(consensus(BUY, 0.66), context(), profile()).exit_plan
        assert [(t.gain, t.fraction) for t in plan.take_profits] == [
            (0.15, 0.33),
            (0.30, 0.33),
            (0.60, 0.34),
        ]
        assert plan.target_prices(100.0) == pytest.approx((115.0, 130.0, 160.0))
        assert plan.time_stop_ms == 48 * 3_600_000

    def test_stop_scales_with_volatility_and_is_capped_at_fifteen_percent(self):
        p = profile()  # base stop 8%, 2.5 x daily volatility
        assert plan_exit(0.7, 0.02, 0.015, p).stop_loss == pytest.approx(0.08)
        assert plan_exit(0.7, 0.05, 0.015, p).stop_loss == pytest.approx(0.125)
        assert plan_exit(0.7, 0.20, 0.015, p).stop_loss == pytest.approx(0.15)
        assert plan_exit(0.7, 0.05, 0.015, p).stop_price(100.0) == pytest.approx(87.5)

    def test_trailing_stop_only_for_high_confidence_entries(self):
        p = profile()  # trailing above 0.75
        assert plan_exit(0.70, 0.02, 0.015, p).trailing_stop is None
        assert plan_exit(0.80, 0.02, 0.015, p).trailing_stop == 0.015


class TestPositionsAndExits:
    def test_a_sell_closes_what_is_held_rounded_down(self):
        decision = decide(consensus(SELL, 0.7), context(position_qty=0.12345), profile())
        assert decision.action is DecisionAction.TRAIL_SELL
        assert decision.quantity == Decimal("0.123")

    def test_a_sell_without_a_position_is_a_skip(self):
        decision = decide(consensus(SELL, 0.9), context(), profile())
        assert decision.action is DecisionAction.SKIP and "nothing held" in decision.reasoning

    def test_a_weak_sell_keeps_the_position(self):
        decision = decide(consensus(SELL, 0.3), context(position_qty=1.0), profile())
        assert decision.action is DecisionAction.SKIP and "sell threshold" in decision.reasoning

    def test_no_pyramiding_and_a_position_limit(self):
        holding = decide(consensus(BUY, 0.9), context(position_qty=0.5), profile())
        assert holding.action is DecisionAction.SKIP and "already holding" in holding.reasoning
        full = decide(consensus(BUY, 0.9), context(open_positions=3), profile())
        assert full.action is DecisionAction.SKIP and "limit is 3" in full.reasoning


class TestFirstEntry:
    def test_a_two_percent_drop_from_the_session_start_buys_first(self):
        ctx = context(awaiting_first_entry=True, session_start_price=20_500.0)
        decision = decide(consensus(HOLD, 0.2), ctx, profile())
        assert decision.action is DecisionAction.TRAIL_BUY
        assert "first entry: price 2.4% below the session start" in decision.reasoning

    def test_one_agent_over_seventy_percent_buys_first(self):
        strong = AgentSignal("momentum", BUY, 0.75, 0.02, "oversold")
        ctx = context(awaiting_first_entry=True)
        decision = decide(consensus(HOLD, 0.2), ctx, profile(), [strong])
        assert decision.action is DecisionAction.TRAIL_BUY and "momentum buys" in decision.reasoning
        later = decide(consensus(HOLD, 0.2), context(), profile(), [strong])
        assert later.action is DecisionAction.SKIP


def test_every_decision_is_frozen_and_json_ready():
    decision = decide(consensus(BUY, 0.8), context(), profile())
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.quantity = Decimal(5)  # type: ignore[misc]
    data = json.loads(json.dumps(decision.as_dict()))
    assert data["action"] == "TRAIL_BUY" and data["exit_plan"]["stop_loss"] == 0.08
    assert data["sizing"]["binding"] == "base" and data["reasoning"].startswith("consensus")
