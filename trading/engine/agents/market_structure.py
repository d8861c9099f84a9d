"""Market-structure agent: swing support/resistance, structure breaks, trend structure.

Guarantees: levels are the last two confirmed swing highs and lows (a swing is
known only `swing_bars` bars after its pivot, so no lookahead). A close
breaking the last swing high, having been at or under it within `break_bars`
bars, votes TRAIL_BUY (break of structure); breaking the last swing low votes
TRAIL_SELL. Otherwise a close within `near_atr` ATRs above support (unless the
structure is falling) votes for the bounce, and within `near_atr` under
resistance (unless the structure is rising) for the rejection. Higher highs
and higher lows, and SMA(fast) over SMA(slow), add confidence to buys (and the
mirror to sells). Otherwise the agent abstains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trading.engine.agents.base import AgentAction, AgentSignal, ParamAgent
from trading.engine.agents.common_indicators import atr_fraction, atr_trail
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.indicators import swing_highs, swing_lows
from trading.engine.strategy import Param, ParamSpace


@dataclass(frozen=True)
class MarketStructureAgent(ParamAgent):
    name = "market_structure"
    description = "swing support/resistance, structure breaks and trend structure"
    param_space = ParamSpace(
        (
            Param("swing_bars", "int", 3, 1, 10, description="bars each side of a pivot"),
            Param("lookback", "int", 150, 40, 500),
            Param("fast_ma", "int", 20, 5, 100),
            Param("slow_ma", "int", 50, 10, 300),
            Param("near_atr", "float", 0.75, 0.1, 3.0),
            Param("break_bars", "int", 3, 1, 20),
            Param("trail_atr_multiple", "float", 2.0, 0.5, 6.0),
        )
    )
    swing_bars: int = 3
    lookback: int = 150
    fast_ma: int = 20
    slow_ma: int = 50
    near_atr: float = 0.75
    break_bars: int = 3
    trail_atr_multiple: float = 2.0

    def constraint_errors(self) -> dict[str, str]:
        errors = {}
        if self.fast_ma >= self.slow_ma:
            errors["fast_ma"] = "must be shorter than slow_ma"
        if self.slow_ma > self.lookback:
            errors["slow_ma"] = "must fit in lookback"
        return errors

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        bars = market.bars
        n = min(len(bars), self.lookback)
        if n < max(self.slow_ma, 4 * self.swing_bars + self.break_bars + 2):
            return self.hold(f"only {len(bars)} bars, need {self.slow_ma}")
        high, low, close = bars.high[-n:], bars.low[-n:], bars.close[-n:]
        highs = _confirmed(swing_highs(high, self.swing_bars, self.swing_bars))
        lows = _confirmed(swing_lows(low, self.swing_bars, self.swing_bars))
        if len(highs) < 2 or len(lows) < 2:
            return self.hold("fewer than two swing highs and lows in the window")
        resistance, support, last = float(highs[-1]), float(lows[-1]), float(close[-1])
        rising = bool(highs[-1] > highs[-2] and lows[-1] > lows[-2])
        falling = bool(highs[-1] < highs[-2] and lows[-1] < lows[-2])
        ma_up = bool(np.mean(close[-self.fast_ma :]) > np.mean(close[-self.slow_ma :]))
        atr = atr_fraction(market) * last
        trail = atr_trail(market, self.trail_atr_multiple)
        details = {
            "support": support,
            "resistance": resistance,
            "rising": float(rising),
            "falling": float(falling),
            "ma_up": float(ma_up),
        }
        before = close[-self.break_bars - 1 : -1]
        if last > resistance and np.any(before <= resistance):
            size = min(1.0, (last - resistance) / atr) if atr > 0 else 0.0
            conf = 0.45 + 0.2 * size + 0.15 * ma_up + 0.15 * rising
            why = f"break of structure: close {last:g} over the swing high {resistance:g}"
            return self.signal(AgentAction.TRAIL_BUY, conf, trail, why, **details)
        if last < support and np.any(before >= support):
            size = min(1.0, (support - last) / atr) if atr > 0 else 0.0
            conf = 0.45 + 0.2 * size + 0.15 * (not ma_up) + 0.15 * falling
            why = f"break of structure: close {last:g} under the swing low {support:g}"
            return self.signal(AgentAction.TRAIL_SELL, conf, trail, why, **details)
        if atr > 0 and 0 <= last - support <= self.near_atr * atr and not falling:
            conf = 0.4 + 0.15 * ma_up + 0.15 * rising
            why = f"close {last:g} just over support {support:g}: bounce"
            return self.signal(AgentAction.TRAIL_BUY, conf, trail, why, **details)
        if atr > 0 and 0 <= resistance - last <= self.near_atr * atr and not rising:
            conf = 0.4 + 0.15 * (not ma_up) + 0.15 * falling
            why = f"close {last:g} just under resistance {resistance:g}: rejection"
            return self.signal(AgentAction.TRAIL_SELL, conf, trail, why, **details)
        why = f"between support {support:g} and resistance {resistance:g}"
        return self.hold(why, **details)


def _confirmed(levels: np.ndarray) -> np.ndarray:
    return levels[np.isfinite(levels)]
