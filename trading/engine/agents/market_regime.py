"""Regime agent: votes with the market regime and sets trail widths by volatility state.

Guarantees: uses `trading.engine.regime.detect_regime` on the primary bars, or
on the higher timeframe when that covers more days (regimes are measured over
7 and 20 days). BULL votes TRAIL_BUY and BEAR TRAIL_SELL with the regime's
confidence; SIDEWAYS is an active HOLD at `sideways_weight` x confidence. The
trail is `trail_base` x the reference multiple of the volatility state
(trending 1.5, ranging 0.7, volatile 2.0, calm 0.5) x the daily volatility
relative to the reference, clipped to [0.5, 2].
"""

from __future__ import annotations

from dataclasses import dataclass

from trading.engine.agents.base import AgentAction, AgentSignal, ParamAgent
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.market import Bars, timeframe_ms
from trading.engine.regime import MIN_BARS, RegimeLabel, detect_regime
from trading.engine.risk_profiles import REFERENCE_DAILY_VOLATILITY, TRAIL_STATE_MULTIPLIERS
from trading.engine.strategy import Param, ParamSpace

_ACTIONS = {
    RegimeLabel.BULL: AgentAction.TRAIL_BUY,
    RegimeLabel.BEAR: AgentAction.TRAIL_SELL,
    RegimeLabel.SIDEWAYS: AgentAction.HOLD,
}


@dataclass(frozen=True)
class RegimeAgent(ParamAgent):
    name = "regime"
    description = "BULL/BEAR/SIDEWAYS from 7-day momentum, 20-day volatility and volume"
    param_space = ParamSpace(
        (
            Param("momentum_threshold_pct", "float", 1.0, 0.2, 5.0, description="%/day"),
            Param("trail_base", "float", 0.015, 0.002, 0.05),
            Param("sideways_weight", "float", 0.5, 0.0, 1.0),
        )
    )
    momentum_threshold_pct: float = 1.0
    trail_base: float = 0.015
    sideways_weight: float = 0.5

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        bars = _longest_history(market)
        if len(bars) < MIN_BARS:
            return self.hold(f"only {len(bars)} bars, need {MIN_BARS}")
        regime = detect_regime(bars, momentum_threshold_pct=self.momentum_threshold_pct)
        f = regime.features
        ratio = min(2.0, max(0.5, f["daily_volatility"] / REFERENCE_DAILY_VOLATILITY))
        state = regime.volatility_state.value
        trail = self.trail_base * TRAIL_STATE_MULTIPLIERS[state] * ratio
        confidence = regime.confidence
        if regime.label is RegimeLabel.SIDEWAYS:
            confidence *= self.sideways_weight
        why = (
            f"{regime.label.value} ({bars.timeframe}): momentum "
            f"{f['momentum_pct_per_day']:+.2f}%/day, daily volatility "
            f"{f['daily_volatility']:.2%}, volume x{f['volume_strength']:.2f}; {state}"
        )
        return self.signal(_ACTIONS[regime.label], confidence, trail, why, **dict(f))


def _longest_history(market: MarketSnapshot) -> Bars:
    bars, htf = market.bars, market.higher_timeframe
    if htf is None or len(htf) < MIN_BARS:
        return bars
    span = len(bars) * timeframe_ms(bars.timeframe)
    htf_span = len(htf) * timeframe_ms(htf.timeframe)
    return htf if htf_span > span else bars
