"""Incremental form of `VolumeProfileAgent`: volume and VWAP windows, shared ATR.

Guarantees: see `protocol`. The rolling VWAP is summed over the same
`vwap_period` bars in the same order as the batch kernel; the spike baseline is
the mean of the `volume_period` volumes before the last one; a spike is
interpreted by the batch agent's own `_on_spike`.
"""

from __future__ import annotations

import math
from collections import deque

from trading.engine.agents.base import AgentAction, AgentSignal
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.agents.volume_profile import VolumeProfileAgent
from trading.engine.feeds import Candle
from trading.engine.kernel.incremental.protocol import SignalMaker, atr_fraction_of, atr_trail_of
from trading.engine.kernel.incremental.series import NAN, SharedSeries


class IncrementalVolumeProfile:
    def __init__(self, agent: VolumeProfileAgent, series: SharedSeries) -> None:
        self.agent = agent
        self._make = SignalMaker(agent.name)
        self._series = series
        self._atr = series.atr(14)
        self._volumes: deque[float] = deque(maxlen=agent.volume_period + 1)
        self._weighted: deque[tuple[float, float]] = deque(maxlen=agent.vwap_period)
        self._candle: Candle | None = None

    @staticmethod
    def supports(agent: VolumeProfileAgent) -> bool:
        return True

    @property
    def name(self) -> str:
        return self.agent.name

    def update(self, candle: Candle) -> None:
        self._series.sync(candle)
        self._volumes.append(candle.volume)
        typical = (candle.high + candle.low + candle.close) / 3.0
        self._weighted.append((typical * candle.volume, candle.volume))
        self._candle = candle

    def _spike_ratio(self) -> float:
        volumes = self._volumes
        if len(volumes) < (volumes.maxlen or 0):
            return NAN
        values = list(volumes)
        baseline = sum(values[:-1]) / (len(values) - 1)
        return float(values[-1] / baseline) if baseline > 0 else NAN

    def _vwap(self) -> float:
        price_volume = total = 0.0
        traded = False
        for pv, volume in self._weighted:
            price_volume += pv
            total += volume
            traded = traded or volume > 0.0
        return price_volume / total if traded else NAN

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        a = self.agent
        length = len(market.bars)
        need = max(a.volume_period, a.vwap_period) + 1
        if length < max(need, 30) or self._candle is None:
            return self._make.hold(f"only {length} bars, need {max(need, 30)}")
        ratio = self._spike_ratio()
        vwap = float(self._vwap())
        close, open_ = self._candle.close, self._candle.open
        atr = atr_fraction_of(self._atr.value, close)
        stretch = (close / vwap - 1.0) / atr if vwap > 0 and atr > 0 else 0.0
        details = {
            "spike_ratio": ratio,
            "vwap": vwap,
            "vwap_stretch_atr": stretch,
            "whale": float(ratio >= a.whale_multiple),
        }
        trail = atr_trail_of(atr, a.trail_atr_multiple)
        if math.isfinite(ratio) and ratio >= a.spike_multiple:
            return a._on_spike(ratio, close, open_, vwap, stretch, trail, details, market)
        if abs(stretch) >= a.stretch_atr:
            conf = 0.35 + 0.1 * min(2.0, abs(stretch) - a.stretch_atr)
            action = AgentAction.TRAIL_BUY if stretch < 0 else AgentAction.TRAIL_SELL
            n = a.vwap_period
            why = f"close {stretch:+.1f} ATRs from VWAP({n}): stretched, expect reversion"
            return self._make.signal(action, conf, trail, why, details)
        why = f"volume x{ratio:.1f} of normal, {stretch:+.1f} ATRs from VWAP"
        return self._make.hold(why, details)
