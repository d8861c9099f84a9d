"""Incremental form of `TimeDecayAgent`: the stale run is found by walking back from the last bar.

Guarantees: see `protocol`. The walk stops at the first bar (newest first)
whose range leaves the ATR band around the last close, which is exactly the
batch agent's last "outside" bar, so the cost is the length of the stale run,
not the lookback.
"""

from __future__ import annotations

from collections import deque

from trading.engine.agents.base import AgentAction, AgentSignal, clamp_trail
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.agents.time_decay import TimeDecayAgent
from trading.engine.feeds import Candle
from trading.engine.kernel.incremental.protocol import SignalMaker, atr_fraction_of
from trading.engine.kernel.incremental.series import NAN, SharedSeries


class IncrementalTimeDecay:
    def __init__(self, agent: TimeDecayAgent, series: SharedSeries) -> None:
        self.agent = agent
        self._make = SignalMaker(agent.name)
        self._series = series
        self._atr = series.atr(14)
        self._ranges: deque[tuple[float, float]] = deque(maxlen=agent.lookback)
        self._close = NAN

    @staticmethod
    def supports(agent: TimeDecayAgent) -> bool:
        return True

    @property
    def name(self) -> str:
        return self.agent.name

    def update(self, candle: Candle) -> None:
        self._series.sync(candle)
        self._ranges.append((candle.high, candle.low))
        self._close = candle.close

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        a = self.agent
        length = len(market.bars)
        if length < 30:
            return self._make.hold(f"only {length} bars, need 30")
        n = min(length, a.lookback)
        last = float(self._close)
        atr = atr_fraction_of(self._atr.value, last) * last
        if not atr > 0:
            return self._make.hold("no ATR yet")
        ceiling, floor = last + a.band_atr * atr, last - a.band_atr * atr
        stale, top, bottom = 0, -float("inf"), float("inf")
        for high, low in reversed(self._ranges):
            if stale == n or not (high <= ceiling and low >= floor):
                break
            stale += 1
            top, bottom = max(top, high), min(bottom, low)
        staleness = 1.0 - 2.0 ** (-stale / a.half_life_bars)
        trail = clamp_trail(a.trail_atr_multiple * atr / last * (1.0 - 0.6 * staleness))
        details = {"stale_bars": float(stale), "staleness": staleness}
        if stale < a.min_stale_bars:
            return self._make.hold(f"price moving: {stale} bars at this level", details)
        position = (last - bottom) / (top - bottom) if top > bottom else 0.5
        details["range_position"] = position
        where = f"{stale} bars in a {top / bottom - 1:.2%} range" if bottom > 0 else "stale"
        if position <= 0.25:
            conf = 0.3 + 0.45 * staleness * (1.0 - position / 0.25)
            why = f"stale: {where}, close at the range low"
            return self._make.signal(AgentAction.TRAIL_BUY, conf, trail, why, details)
        if position >= 0.75:
            conf = 0.3 + 0.45 * staleness * (position - 0.75) / 0.25
            why = f"stale: {where}, close at the range high"
            return self._make.signal(AgentAction.TRAIL_SELL, conf, trail, why, details)
        why = f"stale: {where}"
        return self._make.signal(AgentAction.HOLD, 0.2 * staleness, trail, why, details)
