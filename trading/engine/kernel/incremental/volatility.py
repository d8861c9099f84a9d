"""Incremental form of `VolatilityAgent`: Bollinger and ATR states, sorted windows for ranks.

Guarantees: see `protocol`. The bandwidth rank and median (squeeze test) and
the ATR median (falling-knife damping) come from `SortedWindow`s holding the
same values the batch agent's arrays hold, so they cost O(log n) per candle.
"""

from __future__ import annotations

from trading.engine.agents.base import AgentAction, AgentSignal
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.agents.volatility import VolatilityAgent
from trading.engine.feeds import Candle
from trading.engine.indicators import BollingerState
from trading.engine.kernel.incremental.protocol import SignalMaker, atr_trail_of
from trading.engine.kernel.incremental.series import NAN, SharedSeries, SortedWindow

ATR_TAIL = 250  # common_indicators.ANALYSIS_BARS


class IncrementalVolatility:
    def __init__(self, agent: VolatilityAgent, series: SharedSeries) -> None:
        self.agent = agent
        self._make = SignalMaker(agent.name)
        self._series = series
        self._atr = series.atr(agent.atr_period)
        self._bands = BollingerState(agent.bb_period, agent.bb_std)
        self._bandwidth = SortedWindow(agent.squeeze_window + 1)
        self._atr_relative = SortedWindow(agent.squeeze_window)
        self._last = (NAN, NAN, NAN)
        self._close = NAN
        self._atr_now = NAN

    @staticmethod
    def supports(agent: VolatilityAgent) -> bool:
        """The ATR median window must fit in the batch agent's ATR tail."""
        tail = max(ATR_TAIL, 4 * agent.atr_period)
        return agent.squeeze_window <= tail - agent.atr_period

    @property
    def name(self) -> str:
        return self.agent.name

    def update(self, candle: Candle) -> None:
        self._series.sync(candle)
        upper, middle, lower = self._bands.update(candle.close)
        self._last = (upper, middle, lower)
        self._close = candle.close
        self._bandwidth.push((upper - lower) / middle)
        self._atr_now = self._atr.value / candle.close
        self._atr_relative.push(self._atr_now)

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        a = self.agent
        length = len(market.bars)
        n = min(length, a.squeeze_window + a.bb_period)
        if n < a.bb_period + 2 or length < 2 * a.atr_period:
            return self._make.hold(f"only {length} bars, need {2 * a.bb_period}")
        upper, middle, lower = self._last
        width = upper - lower
        if not width > 0:
            return self._make.hold("flat prices: Bollinger bands have no width")
        pct_b = float((self._close - lower) / width)
        bandwidth = (upper - lower) / middle
        atr_now = self._atr_now
        atr_ratio = float(atr_now / self._atr_relative.median())
        trail = atr_trail_of(atr_now, a.trail_atr_multiple)
        details = {
            "pct_b": pct_b,
            "bandwidth": float(bandwidth),
            "atr_fraction": atr_now,
            "atr_ratio": atr_ratio,
        }
        knife = 1.0 / (1.0 + max(0.0, atr_ratio - 2.0))
        if pct_b < 0:
            conf = (0.5 + min(0.5, -pct_b)) * knife
            why = f"close {-pct_b:.2f} band-widths below the lower band; ATR x{atr_ratio:.1f}"
            return self._make.signal(AgentAction.TRAIL_BUY, conf, trail, why, details)
        if pct_b > 1:
            conf = (0.5 + min(0.5, pct_b - 1.0)) * knife
            why = f"close {pct_b - 1:.2f} band-widths above the upper band; ATR x{atr_ratio:.1f}"
            return self._make.signal(AgentAction.TRAIL_SELL, conf, trail, why, details)
        return self._inside(pct_b, bandwidth, trail, details)

    def _inside(
        self, pct_b: float, bandwidth: float, trail: float, details: dict[str, float]
    ) -> AgentSignal:
        ranks = self._bandwidth
        valid = ranks.finite_count
        narrower = ranks.count_below(bandwidth)
        lowest_decile = valid >= 20 and narrower <= 0.1 * (valid - 1)
        if lowest_decile and bandwidth < 0.6 * ranks.median():
            why = "Bollinger squeeze: bandwidth in the lowest decile, breakout side unknown"
            return self._make.signal(AgentAction.HOLD, 0.3, trail, why, details)
        return self._make.hold(f"inside the bands (%b {pct_b:.2f})", details)
