"""Volume-profile agent: volume spikes (whales), capitulation and blow-offs, VWAP stretch.

Guarantees: the spike ratio is the last bar's volume over the mean of the
`volume_period` bars before it (the spike itself is not in its own baseline).
A spike on a falling bar that closes under the rolling VWAP is read as
capitulation (TRAIL_BUY: the trailing buy waits for the rebound); a spike on a
rising bar above VWAP as a blow-off (TRAIL_SELL); a spike without such a side
is an active HOLD. Without a spike, a close stretched more than
`stretch_atr` ATRs from VWAP votes for reversion; otherwise the agent abstains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trading.engine.agents.base import AgentAction, AgentSignal, ParamAgent
from trading.engine.agents.common_indicators import atr_fraction, atr_trail
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.indicators import vwap_rolling
from trading.engine.strategy import Param, ParamSpace


def spike_ratio(volume: np.ndarray, period: int) -> float:
    """Last volume over the mean of the `period` volumes before it (NaN if unknown)."""
    if len(volume) < period + 1:
        return math.nan
    baseline = float(np.mean(volume[-period - 1 : -1]))
    return float(volume[-1] / baseline) if baseline > 0 else math.nan


@dataclass(frozen=True)
class VolumeProfileAgent(ParamAgent):
    name = "volume_profile"
    description = "volume spikes and whale bars, capitulation and blow-offs, VWAP stretch"
    param_space = ParamSpace(
        (
            Param("volume_period", "int", 20, 5, 100),
            Param("spike_multiple", "float", 2.5, 1.5, 10.0),
            Param("whale_multiple", "float", 5.0, 2.0, 20.0),
            Param("vwap_period", "int", 24, 5, 200),
            Param("stretch_atr", "float", 3.0, 1.0, 8.0),
            Param("trail_atr_multiple", "float", 1.5, 0.5, 6.0),
        )
    )
    volume_period: int = 20
    spike_multiple: float = 2.5
    whale_multiple: float = 5.0
    vwap_period: int = 24
    stretch_atr: float = 3.0
    trail_atr_multiple: float = 1.5

    def constraint_errors(self) -> dict[str, str]:
        if self.whale_multiple <= self.spike_multiple:
            return {"whale_multiple": "must be larger than spike_multiple"}
        return {}

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        bars = market.bars
        need = max(self.volume_period, self.vwap_period) + 1
        if len(bars) < max(need, 30):
            return self.hold(f"only {len(bars)} bars, need {max(need, 30)}")
        ratio = spike_ratio(bars.volume, self.volume_period)
        n = self.vwap_period
        vwap = float(
            vwap_rolling(bars.high[-n:], bars.low[-n:], bars.close[-n:], bars.volume[-n:], n)[-1]
        )
        close, open_ = float(bars.close[-1]), float(bars.open[-1])
        atr = atr_fraction(market)
        stretch = (close / vwap - 1.0) / atr if vwap > 0 and atr > 0 else 0.0
        details = {
            "spike_ratio": ratio,
            "vwap": vwap,
            "vwap_stretch_atr": stretch,
            "whale": float(ratio >= self.whale_multiple),
        }
        trail = atr_trail(market, self.trail_atr_multiple)
        if math.isfinite(ratio) and ratio >= self.spike_multiple:
            return self._on_spike(ratio, close, open_, vwap, stretch, trail, details, market)
        if abs(stretch) >= self.stretch_atr:
            conf = 0.35 + 0.1 * min(2.0, abs(stretch) - self.stretch_atr)
            action = AgentAction.TRAIL_BUY if stretch < 0 else AgentAction.TRAIL_SELL
            why = f"close {stretch:+.1f} ATRs from VWAP({n}): stretched, expect reversion"
            return self.signal(action, conf, trail, why, **details)
        return self.hold(f"volume x{ratio:.1f} of normal, {stretch:+.1f} ATRs from VWAP", **details)

    def _on_spike(
        self,
        ratio: float,
        close: float,
        open_: float,
        vwap: float,
        stretch: float,
        trail: float,
        details: dict[str, float],
        market: MarketSnapshot,
    ) -> AgentSignal:
        high, low = float(market.bars.high[-1]), float(market.bars.low[-1])
        span = high - low
        kind = "whale" if ratio >= self.whale_multiple else "volume"
        size = min(1.0, (ratio - self.spike_multiple) / (self.whale_multiple - self.spike_multiple))
        if close < open_ and close < vwap:
            wick = (min(open_, close) - low) / span if span > 0 else 0.0
            conf = 0.45 + 0.15 * size + 0.15 * (stretch <= -1.0) + 0.1 * (wick >= 0.4)
            why = f"{kind} spike x{ratio:.1f} on a falling bar under VWAP: capitulation"
            return self.signal(AgentAction.TRAIL_BUY, conf, trail, why, **details)
        if close > open_ and close > vwap:
            wick = (high - max(open_, close)) / span if span > 0 else 0.0
            conf = 0.45 + 0.15 * size + 0.15 * (stretch >= 1.0) + 0.1 * (wick >= 0.4)
            why = f"{kind} spike x{ratio:.1f} on a rising bar over VWAP: blow-off"
            return self.signal(AgentAction.TRAIL_SELL, conf, trail, why, **details)
        why = f"{kind} spike x{ratio:.1f} without a clear side (bar against VWAP)"
        return self.signal(AgentAction.HOLD, 0.3, trail, why, **details)
