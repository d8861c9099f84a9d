"""Incremental form of `MarketStructureAgent`: confirmed swings kept as they appear.

Guarantees: see `protocol`. A swing enters the list the bar it is confirmed
(`SwingState`, identical to the batch indicator) with that bar's number; the
analysis reads only swings whose whole pivot span lies in the batch agent's
`lookback` window, so support and resistance are the batch agent's.
"""

from __future__ import annotations

from collections import deque

from trading.engine.agents.base import AgentAction, AgentSignal
from trading.engine.agents.market_structure import MarketStructureAgent
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.feeds import Candle
from trading.engine.indicators import SwingState
from trading.engine.kernel.incremental.protocol import SignalMaker, atr_fraction_of, atr_trail_of
from trading.engine.kernel.incremental.series import SharedSeries

Pivot = tuple[int, float]  # (bar number at confirmation, price)


class IncrementalMarketStructure:
    def __init__(self, agent: MarketStructureAgent, series: SharedSeries) -> None:
        self.agent = agent
        self._make = SignalMaker(agent.name)
        self._series = series
        self._atr = series.atr(14)
        self._swings = SwingState(agent.swing_bars, agent.swing_bars)
        self._highs: deque[Pivot] = deque()
        self._lows: deque[Pivot] = deque()
        self._closes: deque[float] = deque(maxlen=max(agent.slow_ma, agent.break_bars + 1))
        self._bars = 0

    @staticmethod
    def supports(agent: MarketStructureAgent) -> bool:
        return True

    @property
    def name(self) -> str:
        return self.agent.name

    def update(self, candle: Candle) -> None:
        self._series.sync(candle)
        high, low = self._swings.update(candle.high, candle.low)
        bar = self._bars
        self._bars += 1
        if high == high:
            self._highs.append((bar, high))
        if low == low:
            self._lows.append((bar, low))
        oldest = bar - self.agent.lookback
        for pivots in (self._highs, self._lows):
            while pivots and pivots[0][0] <= oldest:
                pivots.popleft()
        self._closes.append(candle.close)

    def _in_window(self, pivots: deque[Pivot], n: int) -> list[float]:
        first = self._bars - n + 2 * self.agent.swing_bars
        return [price for bar, price in pivots if bar >= first][-2:]

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        a = self.agent
        length = len(market.bars)
        n = min(length, a.lookback)
        if n < max(a.slow_ma, 4 * a.swing_bars + a.break_bars + 2):
            return self._make.hold(f"only {length} bars, need {a.slow_ma}")
        highs, lows = self._in_window(self._highs, n), self._in_window(self._lows, n)
        if len(highs) < 2 or len(lows) < 2:
            return self._make.hold("fewer than two swing highs and lows in the window")
        closes = list(self._closes)
        resistance, support, last = float(highs[-1]), float(lows[-1]), float(closes[-1])
        rising = bool(highs[-1] > highs[-2] and lows[-1] > lows[-2])
        falling = bool(highs[-1] < highs[-2] and lows[-1] < lows[-2])
        fast = sum(closes[-a.fast_ma :]) / a.fast_ma
        slow = sum(closes[-a.slow_ma :]) / a.slow_ma
        ma_up = bool(fast > slow)
        fraction = atr_fraction_of(self._atr.value, last)
        atr = fraction * last
        trail = atr_trail_of(fraction, a.trail_atr_multiple)
        details = {
            "support": support,
            "resistance": resistance,
            "rising": float(rising),
            "falling": float(falling),
            "ma_up": float(ma_up),
        }
        before = closes[-a.break_bars - 1 : -1]
        if last > resistance and any(c <= resistance for c in before):
            size = min(1.0, (last - resistance) / atr) if atr > 0 else 0.0
            conf = 0.45 + 0.2 * size + 0.15 * ma_up + 0.15 * rising
            why = f"break of structure: close {last:g} over the swing high {resistance:g}"
            return self._make.signal(AgentAction.TRAIL_BUY, conf, trail, why, details)
        if last < support and any(c >= support for c in before):
            size = min(1.0, (support - last) / atr) if atr > 0 else 0.0
            conf = 0.45 + 0.2 * size + 0.15 * (not ma_up) + 0.15 * falling
            why = f"break of structure: close {last:g} under the swing low {support:g}"
            return self._make.signal(AgentAction.TRAIL_SELL, conf, trail, why, details)
        if atr > 0 and 0 <= last - support <= a.near_atr * atr and not falling:
            conf = 0.4 + 0.15 * ma_up + 0.15 * rising
            why = f"close {last:g} just over support {support:g}: bounce"
            return self._make.signal(AgentAction.TRAIL_BUY, conf, trail, why, details)
        if atr > 0 and 0 <= resistance - last <= a.near_atr * atr and not rising:
            conf = 0.4 + 0.15 * (not ma_up) + 0.15 * falling
            why = f"close {last:g} just under resistance {resistance:g}: rejection"
            return self._make.signal(AgentAction.TRAIL_SELL, conf, trail, why, details)
        why = f"between support {support:g} and resistance {resistance:g}"
        return self._make.hold(why, details)
