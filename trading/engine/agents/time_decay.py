"""Time-decay agent: how long price has sat at one level, and trails that tighten with it.

Guarantees: the level is the band of `band_atr` ATRs either side of the last
close; the stale time is the number of consecutive latest bars whose whole
range stayed inside it. Under `min_stale_bars` the agent abstains. Staleness
(1 - 2^(-stale / half_life)) tightens the trail down to 40% of its ATR width.
In a stale range a close in the lowest quarter votes TRAIL_BUY and in the top
quarter TRAIL_SELL (range edges), with confidence growing with staleness;
mid-range it is an active HOLD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trading.engine.agents.base import AgentAction, AgentSignal, ParamAgent, clamp_trail
from trading.engine.agents.common_indicators import atr_fraction
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.strategy import Param, ParamSpace


@dataclass(frozen=True)
class TimeDecayAgent(ParamAgent):
    name = "time_decay"
    description = "time spent at a price level; tighter trails on stale prices"
    param_space = ParamSpace(
        (
            Param("band_atr", "float", 1.5, 0.5, 5.0),
            Param("min_stale_bars", "int", 12, 3, 200),
            Param("half_life_bars", "int", 24, 2, 500),
            Param("lookback", "int", 240, 24, 1000),
            Param("trail_atr_multiple", "float", 2.0, 0.5, 6.0),
        )
    )
    band_atr: float = 1.5
    min_stale_bars: int = 12
    half_life_bars: int = 24
    lookback: int = 240
    trail_atr_multiple: float = 2.0

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        bars = market.bars
        if len(bars) < 30:
            return self.hold(f"only {len(bars)} bars, need 30")
        n = min(len(bars), self.lookback)
        high, low, last = bars.high[-n:], bars.low[-n:], float(bars.close[-1])
        atr = atr_fraction(market) * last
        if not atr > 0:
            return self.hold("no ATR yet")
        inside = (high <= last + self.band_atr * atr) & (low >= last - self.band_atr * atr)
        outside = np.flatnonzero(~inside)
        stale = n - 1 - int(outside[-1]) if len(outside) else n
        staleness = 1.0 - 2.0 ** (-stale / self.half_life_bars)
        trail = clamp_trail(self.trail_atr_multiple * atr / last * (1.0 - 0.6 * staleness))
        details = {"stale_bars": float(stale), "staleness": staleness}
        if stale < self.min_stale_bars:
            return self.hold(f"price moving: {stale} bars at this level", **details)
        top, bottom = float(np.max(high[-stale:])), float(np.min(low[-stale:]))
        position = (last - bottom) / (top - bottom) if top > bottom else 0.5
        details["range_position"] = position
        where = f"{stale} bars in a {top / bottom - 1:.2%} range" if bottom > 0 else "stale"
        if position <= 0.25:
            conf = 0.3 + 0.45 * staleness * (1.0 - position / 0.25)
            why = f"stale: {where}, close at the range low"
            return self.signal(AgentAction.TRAIL_BUY, conf, trail, why, **details)
        if position >= 0.75:
            conf = 0.3 + 0.45 * staleness * (position - 0.75) / 0.25
            why = f"stale: {where}, close at the range high"
            return self.signal(AgentAction.TRAIL_SELL, conf, trail, why, **details)
        return self.signal(AgentAction.HOLD, 0.2 * staleness, trail, f"stale: {where}", **details)
