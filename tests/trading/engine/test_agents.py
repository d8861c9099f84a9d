"""Behaviour of each built-in agent on synthetic series with a known shape."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.trading.engine.agent_series import (
    bars_from_closes,
    drifting_closes,
    zigzag_closes,
)
from trading.engine.agents import (
    AgentAction,
    AgentSignal,
    CorrelationAgent,
    MarketSnapshot,
    MarketStructureAgent,
    MomentumAgent,
    RegimeAgent,
    SentimentAgent,
    TimeDecayAgent,
    VolatilityAgent,
    VolumeProfileAgent,
)
from trading.engine.agents.volume_profile import spike_ratio

BUY, SELL, HOLD = AgentAction.TRAIL_BUY, AgentAction.TRAIL_SELL, AgentAction.HOLD


def mirrored(closes: list[float]) -> list[float]:
    """The same path upside down (a dip becomes a peak)."""
    return [200.0 - c for c in closes]


def divergent_dip() -> list[float]:
    """Calm, a sharp drop, a bounce, then a slower slide to a slightly lower low."""
    calm = list(zigzag_closes(200))
    first_drop = list(np.linspace(100, 86, 12)[1:])
    bounce = list(np.linspace(86, 91, 8)[1:])
    slow_slide = list(np.linspace(91, 85.5, 14)[1:])
    return calm + first_drop + bounce + slow_slide + [85.9]


def steep_second_dip() -> list[float]:
    """As `divergent_dip`, but the second leg is steeper: RSI makes a lower low too."""
    calm = list(zigzag_closes(200))
    first_drop = list(np.linspace(100, 94, 12)[1:])
    bounce = list(np.linspace(94, 95, 8)[1:])
    fast_slide = list(np.linspace(95, 80, 8)[1:])
    return calm + first_drop + bounce + fast_slide + [80.2]


class TestMomentum:
    def test_oversold_dip_with_divergence_votes_trail_buy(self):
        # given a dip to oversold RSI, then a lower price low on a higher RSI low
        bars = bars_from_closes(divergent_dip())
        # when the momentum agent looks at it
        signal = MomentumAgent().analyze(MarketSnapshot(bars))
        # then it votes for a trailing buy, citing the exhaustion and the divergence
        assert signal.action is BUY
        assert signal.confidence >= 0.7
        assert "oversold" in signal.reasoning and "bullish RSI divergence" in signal.reasoning
        assert signal.details["rsi"] < 30

    def test_overbought_peak_with_divergence_votes_trail_sell(self):
        # given the mirror image: a rally to overbought and a weaker higher high
        bars = bars_from_closes(mirrored(divergent_dip()))
        # when
        signal = MomentumAgent().analyze(MarketSnapshot(bars))
        # then
        assert signal.action is SELL
        assert "bearish RSI divergence" in signal.reasoning

    def test_divergence_adds_confidence_over_plain_exhaustion(self):
        # given one dip with a divergence and one whose RSI confirms the new low
        with_divergence = MomentumAgent().analyze(MarketSnapshot(bars_from_closes(divergent_dip())))
        plain = MomentumAgent().analyze(MarketSnapshot(bars_from_closes(steep_second_dip())))
        # then both are buys on exhaustion, but only one sees a divergence and it is surer
        assert plain.action is BUY and "divergence" not in plain.reasoning
        assert with_divergence.confidence > plain.confidence

    def test_higher_timeframe_exhaustion_raises_confidence(self):
        # given the same dip, once alone and once with a falling higher timeframe
        bars = bars_from_closes(divergent_dip())
        htf = bars_from_closes(list(np.linspace(120, 86, 60)), timeframe="4h")
        alone = MomentumAgent().analyze(MarketSnapshot(bars))
        confirmed = MomentumAgent().analyze(MarketSnapshot(bars, higher_timeframe=htf))
        # then the multi-timeframe exhaustion is cited and adds confidence
        assert "higher timeframe" in confirmed.reasoning
        assert confirmed.confidence > alone.confidence

    def test_it_abstains_without_exhaustion(self):
        signal = MomentumAgent().analyze(MarketSnapshot(bars_from_closes(zigzag_closes(300))))
        assert signal.action is HOLD and signal.confidence == 0.0

    def test_it_abstains_on_a_short_window(self):
        signal = MomentumAgent().analyze(MarketSnapshot(bars_from_closes(zigzag_closes(40))))
        assert signal.action is HOLD and signal.confidence == 0.0
        assert "need" in signal.reasoning


class TestVolumeProfile:
    def test_spike_ratio_excludes_the_spike_from_its_baseline(self):
        volume = np.array([100.0] * 20 + [600.0])
        assert spike_ratio(volume, 20) == pytest.approx(6.0)

    def test_a_volume_spike_on_a_falling_bar_is_read_as_capitulation(self):
        # given calm bars at constant volume, then one falling bar on 6x volume
        closes = list(zigzag_closes(100)) + [97.0]
        volume = [100.0] * 100 + [600.0]
        bars = bars_from_closes(closes, volume=volume)
        # when
        signal = VolumeProfileAgent().analyze(MarketSnapshot(bars))
        # then the spike is detected (a whale bar) and it votes for the rebound
        assert signal.details["spike_ratio"] == pytest.approx(6.0)
        assert signal.details["whale"] == 1.0
        assert signal.action is BUY
        assert "spike" in signal.reasoning and "capitulation" in signal.reasoning

    def test_a_volume_spike_on_a_rising_bar_is_read_as_a_blow_off(self):
        closes = list(zigzag_closes(100)) + [103.0]
        volume = [100.0] * 100 + [300.0]
        signal = VolumeProfileAgent().analyze(
            MarketSnapshot(bars_from_closes(closes, volume=volume))
        )
        assert signal.details["spike_ratio"] == pytest.approx(3.0)
        assert signal.details["whale"] == 0.0
        assert signal.action is SELL and "blow-off" in signal.reasoning

    def test_normal_volume_near_vwap_abstains(self):
        signal = VolumeProfileAgent().analyze(MarketSnapshot(bars_from_closes(zigzag_closes(100))))
        assert signal.details["spike_ratio"] == pytest.approx(1.0)
        assert signal.action is HOLD and signal.confidence == 0.0


class TestVolatility:
    def test_close_below_the_lower_band_votes_buy_with_an_atr_trail(self):
        # given calm bars and a last close far under the lower Bollinger band
        closes = list(zigzag_closes(200, 0.004)) + [97.0]
        signal = VolatilityAgent().analyze(MarketSnapshot(bars_from_closes(closes)))
        # then
        assert signal.action is BUY and signal.details["pct_b"] < 0
        atr_fraction = signal.details["atr_fraction"]
        assert signal.trail_distance == pytest.approx(max(0.002, min(0.1, 2.0 * atr_fraction)))

    def test_close_above_the_upper_band_votes_sell(self):
        closes = list(zigzag_closes(200, 0.004)) + [103.0]
        signal = VolatilityAgent().analyze(MarketSnapshot(bars_from_closes(closes)))
        assert signal.action is SELL and signal.details["pct_b"] > 1

    def test_a_squeeze_is_an_active_hold(self):
        # given wide swings that calm down to a very narrow range
        closes = list(zigzag_closes(150, 0.01)) + list(zigzag_closes(60, 0.0005))
        signal = VolatilityAgent().analyze(MarketSnapshot(bars_from_closes(closes)))
        assert signal.action is HOLD and signal.confidence > 0
        assert "squeeze" in signal.reasoning

    def test_inside_the_bands_it_abstains(self):
        signal = VolatilityAgent().analyze(MarketSnapshot(bars_from_closes(zigzag_closes(200))))
        assert signal.action is HOLD and signal.confidence == 0.0


def staircase(levels: list[float], bars_per_leg: int = 8) -> list[float]:
    """Straight legs between successive turning points."""
    closes: list[float] = []
    for start, end in zip(levels[:-1], levels[1:], strict=True):
        closes.extend(np.linspace(start, end, bars_per_leg + 1)[:-1])
    closes.append(levels[-1])
    return closes


class TestMarketStructure:
    def test_break_above_the_last_swing_high_votes_buy(self):
        # given higher highs and higher lows, then a close through the last swing high
        levels = [100, 104, 101, 106, 103, 108, 105, 110, 107]
        closes = list(zigzag_closes(60)) + staircase(levels) + [108, 109, 109.8, 111.0]
        signal = MarketStructureAgent().analyze(MarketSnapshot(bars_from_closes(closes)))
        # then
        assert signal.action is BUY
        assert "break of structure" in signal.reasoning
        assert signal.details["rising"] == 1.0

    def test_break_below_the_last_swing_low_votes_sell(self):
        levels = [112, 108, 111, 106, 109, 104, 107, 102, 105]
        closes = list(zigzag_closes(60) * 1.12) + staircase(levels) + [104, 103, 102.2, 101.0]
        signal = MarketStructureAgent().analyze(MarketSnapshot(bars_from_closes(closes)))
        assert signal.action is SELL and "break of structure" in signal.reasoning
        assert signal.details["falling"] == 1.0

    def test_support_and_resistance_are_the_last_confirmed_swings(self):
        levels = [100, 104, 101, 106, 103, 108, 105]
        closes = list(zigzag_closes(60)) + staircase(levels) + [105.5, 106.0]
        signal = MarketStructureAgent().analyze(MarketSnapshot(bars_from_closes(closes)))
        assert signal.details["resistance"] == pytest.approx(108 * 1.002)
        assert signal.details["support"] == pytest.approx(103 * 0.998)


class TestRegimeAgent:
    def test_an_uptrend_votes_buy_and_a_downtrend_sell(self):
        up = RegimeAgent().analyze(MarketSnapshot(bars_from_closes(drifting_closes(500, 2.5))))
        down = RegimeAgent().analyze(MarketSnapshot(bars_from_closes(drifting_closes(500, -2.5))))
        assert up.action is BUY and "BULL" in up.reasoning and up.confidence > 0.5
        assert down.action is SELL and "BEAR" in down.reasoning

    def test_trail_follows_the_volatility_state(self):
        # given a quiet trend and a market whose last day turned wild
        trend = drifting_closes(500, 2.5, noise=0.002)
        wild = np.concatenate([trend[:-30], trend[-30] / 100 * drifting_closes(30, 0, noise=0.02)])
        calm_signal = RegimeAgent().analyze(MarketSnapshot(bars_from_closes(trend)))
        wild_signal = RegimeAgent().analyze(MarketSnapshot(bars_from_closes(wild)))
        # then the volatile market gets the wider trail
        assert "volatile" in wild_signal.reasoning
        assert wild_signal.trail_distance > calm_signal.trail_distance


class TestTimeDecay:
    def test_stale_price_at_the_range_low_votes_buy_with_a_tighter_trail(self):
        # given a move, then 60 bars stuck in a narrow range, closing at its low
        moving = list(drifting_closes(150, 3.0, noise=0.01))
        level = moving[-1]
        stuck = list(level * (1 + 0.001 * np.sin(np.arange(60)))) + [level * 0.999]
        fresh = TimeDecayAgent().analyze(MarketSnapshot(bars_from_closes(moving, wick=0.0005)))
        bars = bars_from_closes(moving + stuck, wick=0.0005)
        stale = TimeDecayAgent().analyze(MarketSnapshot(bars))
        # then the stale market is noticed and the trail is tighter than two ATRs
        assert fresh.confidence == 0.0
        assert stale.details["stale_bars"] >= 40
        assert stale.action is BUY and "range low" in stale.reasoning
        atr_trail = VolatilityAgent().analyze(MarketSnapshot(bars)).trail_distance
        assert stale.trail_distance < 0.6 * atr_trail

    def test_moving_prices_abstain(self):
        signal = TimeDecayAgent().analyze(
            MarketSnapshot(bars_from_closes(drifting_closes(200, 20.0, noise=0.001)))
        )
        assert signal.action is HOLD and signal.confidence == 0.0


class TestCorrelation:
    def test_lagging_a_correlated_peer_votes_buy(self):
        # given two symbols moving together, then the primary falling behind
        peer = drifting_closes(120, 0.0, noise=0.01, seed=3)
        primary = peer.copy()
        primary[-4:] *= np.array([0.99, 0.98, 0.97, 0.96])
        snapshot = MarketSnapshot(
            bars_from_closes(primary, symbol="AAA"),
            peers={"BBB": bars_from_closes(peer, symbol="BBB")},
        )
        signal = CorrelationAgent().analyze(snapshot)
        # then it expects the laggard to catch up
        assert signal.action is BUY
        assert signal.details["z"] < -2 and signal.details["correlation"] > 0.6

    def test_running_ahead_votes_sell(self):
        peer = drifting_closes(120, 0.0, noise=0.01, seed=3)
        primary = peer.copy()
        primary[-4:] *= np.array([1.01, 1.02, 1.03, 1.04])
        snapshot = MarketSnapshot(bars_from_closes(primary), peers={"BBB": bars_from_closes(peer)})
        assert CorrelationAgent().analyze(snapshot).action is SELL

    def test_uncorrelated_peers_and_no_peers_abstain(self):
        primary = bars_from_closes(drifting_closes(120, 0.0, noise=0.01, seed=3))
        other = bars_from_closes(drifting_closes(120, 0.0, noise=0.01, seed=4))
        assert CorrelationAgent().analyze(MarketSnapshot(primary)).confidence == 0.0
        lone = CorrelationAgent().analyze(MarketSnapshot(primary, peers={"X": other}))
        assert lone.action is HOLD and lone.confidence == 0.0


class TestSentiment:
    bars = bars_from_closes(zigzag_closes(100))

    def test_without_input_it_holds_with_zero_confidence(self):
        signal = SentimentAgent().analyze(MarketSnapshot(self.bars))
        assert signal.action is HOLD and signal.confidence == 0.0

    def test_crowded_longs_on_funding_vote_sell(self):
        funding = np.r_[np.full(60, 0.0001) + 0.00002 * np.sin(np.arange(60)), 0.0015]
        signal = SentimentAgent().analyze(MarketSnapshot(self.bars, funding_rates=funding))
        assert signal.action is SELL and "crowded longs" in signal.reasoning

    def test_extreme_fear_votes_buy_and_greed_sells(self):
        fear = SentimentAgent().analyze(MarketSnapshot(self.bars, fear_greed=np.array([40, 12.0])))
        greed = SentimentAgent().analyze(MarketSnapshot(self.bars, fear_greed=np.array([90.0])))
        assert fear.action is BUY and "extreme fear" in fear.reasoning
        assert greed.action is SELL

    def test_agreeing_extremes_are_surer_than_one(self):
        funding = np.r_[np.full(60, 0.0001), -0.002]
        one = SentimentAgent().analyze(MarketSnapshot(self.bars, funding_rates=funding))
        both = SentimentAgent().analyze(
            MarketSnapshot(self.bars, funding_rates=funding, fear_greed=np.array([10.0]))
        )
        assert one.action is BUY and both.action is BUY
        assert both.confidence > one.confidence

    def test_opposing_extremes_hold(self):
        funding = np.r_[np.full(60, 0.0001), 0.002]
        signal = SentimentAgent().analyze(
            MarketSnapshot(self.bars, funding_rates=funding, fear_greed=np.array([10.0]))
        )
        assert signal.action is HOLD and "disagree" in signal.reasoning


class TestSignalContract:
    @pytest.mark.parametrize("confidence", [-0.1, 1.1, math.nan, math.inf])
    def test_confidence_outside_zero_one_is_refused(self, confidence):
        with pytest.raises(ValueError, match="confidence"):
            AgentSignal("x", BUY, confidence, 0.02, "why")

    def test_trail_must_be_a_fraction_and_reasoning_present(self):
        with pytest.raises(ValueError, match="trail"):
            AgentSignal("x", BUY, 0.5, 1.5, "why")
        with pytest.raises(ValueError, match="reasoning"):
            AgentSignal("x", BUY, 0.5, 0.02, "")

    def test_action_strings_are_accepted_and_normalised(self):
        signal = AgentSignal("x", "TRAIL_SELL", 0.5, 0.02, "why")  # type: ignore[arg-type]
        assert signal.action is SELL and signal.as_dict()["action"] == "TRAIL_SELL"

    def test_snapshot_refuses_a_bad_price_and_computes_memos_once(self):
        bars = bars_from_closes(zigzag_closes(10))
        with pytest.raises(ValueError, match="price"):
            MarketSnapshot(bars, price=0.0)
        snapshot = MarketSnapshot(bars)
        calls: list[int] = []
        first = snapshot.memo("k", lambda: calls.append(1) or 42)
        second = snapshot.memo("k", lambda: calls.append(1) or 43)
        assert (first, second, len(calls)) == (42, 42, 1)
        assert snapshot.last_price == bars.close[-1]
