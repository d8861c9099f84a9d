"""Volatility agent: Bollinger-band extremes for direction, ATR for the trail.

Guarantees: reads the last `bb_period`-bar Bollinger bands and ATR on a bounded
tail. A close below the lower band votes TRAIL_BUY (a trailing buy then waits
for the bounce), above the upper band TRAIL_SELL; confidence grows with the
distance outside the band and is damped when ATR has exploded (over 2x its
median: a falling knife). A squeeze (bandwidth in the lowest decile of the
window and under 0.6x its median) is an active HOLD: a breakout is coming, its side is not known. Inside
the bands the agent abstains. The trail is `trail_atr_multiple` ATRs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trading.engine.agents.base import AgentAction, AgentSignal, ParamAgent
from trading.engine.agents.common_indicators import atr_series, atr_trail
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.indicators import bollinger
from trading.engine.strategy import Param, ParamSpace


@dataclass(frozen=True)
class VolatilityAgent(ParamAgent):
    name = "volatility"
    description = "Bollinger band extremes with an ATR-based trail"
    param_space = ParamSpace(
        (
            Param("atr_period", "int", 14, 5, 50, description="ATR period"),
            Param("bb_period", "int", 20, 10, 60, description="Bollinger period"),
            Param("bb_std", "float", 2.0, 1.0, 3.5, description="band width in std"),
            Param("trail_atr_multiple", "float", 2.0, 0.5, 6.0, description="trail in ATRs"),
            Param("squeeze_window", "int", 120, 40, 400, description="bars ranked for a squeeze"),
        )
    )
    atr_period: int = 14
    bb_period: int = 20
    bb_std: float = 2.0
    trail_atr_multiple: float = 2.0
    squeeze_window: int = 120

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        bars = market.bars
        n = min(len(bars), self.squeeze_window + self.bb_period)
        if n < self.bb_period + 2 or len(bars) < 2 * self.atr_period:
            return self.hold(f"only {len(bars)} bars, need {2 * self.bb_period}")
        close = bars.close[-n:]
        upper, middle, lower = bollinger(close, self.bb_period, self.bb_std)
        width = upper[-1] - lower[-1]
        if not width > 0:
            return self.hold("flat prices: Bollinger bands have no width")
        pct_b = float((close[-1] - lower[-1]) / width)
        bandwidth = (upper - lower) / middle
        atr_values = atr_series(market, self.atr_period)
        atr_relative = atr_values / bars.close[-len(atr_values) :]
        atr_now = float(atr_relative[-1])
        recent_atr = atr_relative[-self.squeeze_window :]
        atr_ratio = float(atr_now / np.median(recent_atr[np.isfinite(recent_atr)]))
        trail = atr_trail(market, self.trail_atr_multiple, self.atr_period)
        details = {
            "pct_b": pct_b,
            "bandwidth": float(bandwidth[-1]),
            "atr_fraction": atr_now,
            "atr_ratio": atr_ratio,
        }
        knife = 1.0 / (1.0 + max(0.0, atr_ratio - 2.0))
        if pct_b < 0:
            conf = (0.5 + min(0.5, -pct_b)) * knife
            why = f"close {-pct_b:.2f} band-widths below the lower band; ATR x{atr_ratio:.1f}"
            return self.signal(AgentAction.TRAIL_BUY, conf, trail, why, **details)
        if pct_b > 1:
            conf = (0.5 + min(0.5, pct_b - 1.0)) * knife
            why = f"close {pct_b - 1:.2f} band-widths above the upper band; ATR x{atr_ratio:.1f}"
            return self.signal(AgentAction.TRAIL_SELL, conf, trail, why, **details)
        valid = bandwidth[np.isfinite(bandwidth)]
        narrower = np.count_nonzero(valid < bandwidth[-1])
        lowest_decile = len(valid) >= 20 and narrower <= 0.1 * (len(valid) - 1)
        if lowest_decile and bandwidth[-1] < 0.6 * np.median(valid):
            why = "Bollinger squeeze: bandwidth in the lowest decile, breakout side unknown"
            return self.signal(AgentAction.HOLD, 0.3, trail, why, **details)
        return self.hold(f"inside the bands (%b {pct_b:.2f})", **details)
