"""Incremental form of `MomentumAgent`: RSI and MACD states, short windows of lows, highs, RSI.

Guarantees: see `protocol`. Exhaustion depth, divergence and the MACD turn are
judged on the same `divergence_lookback` bars as the batch agent, with the same
first-occurrence argmax; the evidence is scored by the batch agent's own `_Side`.
"""

from __future__ import annotations

import math
from collections import deque

from trading.engine.agents.base import AgentAction, AgentSignal
from trading.engine.agents.momentum import MomentumAgent, _Side
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.feeds import Candle
from trading.engine.indicators import MACDState
from trading.engine.kernel.incremental.protocol import SignalMaker, atr_trail_of
from trading.engine.kernel.incremental.series import NAN, SharedSeries


def _first_extreme(values: list[float], start: int, stop: int, sign: float) -> int:
    """Index of the first maximum of sign * values[start:stop] (`np.argmax` on the product)."""
    index = start
    best = values[start]
    if sign > 0:
        for i in range(start + 1, stop):
            if values[i] > best:
                best, index = values[i], i
    else:
        for i in range(start + 1, stop):
            if values[i] < best:
                best, index = values[i], i
    return index


class IncrementalMomentum:
    def __init__(self, agent: MomentumAgent, series: SharedSeries) -> None:
        self.agent = agent
        self._make = SignalMaker(agent.name)
        self._series = series
        self._rsi = series.rsi(agent.rsi_period)
        self._atr = series.atr(14)
        self._macd = MACDState(agent.macd_fast, agent.macd_slow, agent.macd_signal)
        look = agent.divergence_lookback
        self._rsis: deque[float] = deque(maxlen=look)
        self._lows: deque[float] = deque(maxlen=look)
        self._highs: deque[float] = deque(maxlen=look)
        self._hist: deque[float] = deque([NAN, NAN], maxlen=2)
        self._close = NAN

    @staticmethod
    def supports(agent: MomentumAgent) -> bool:
        return True

    @property
    def name(self) -> str:
        return self.agent.name

    def update(self, candle: Candle) -> None:
        self._series.sync(candle)
        self._rsis.append(self._rsi.value)
        self._lows.append(candle.low)
        self._highs.append(candle.high)
        self._hist.append(self._macd.update(candle.close)[2])
        self._close = candle.close

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        a = self.agent
        if market.higher_timeframe is not None:
            return a.analyze(market)
        length = len(market.bars)
        need = max(a.macd_slow + a.macd_signal, a.rsi_period) + a.divergence_lookback
        if length < need:
            return self._make.hold(f"only {length} bars, need {need}")
        rsis = list(self._rsis)
        htf_rsi = NAN
        buy = self._side(list(self._lows), rsis, -1.0)
        sell = self._side(list(self._highs), rsis, 1.0)
        trail = atr_trail_of(self._atr.value / self._close, a.trail_atr_multiple)
        hist = self._hist[-1]
        details = {
            "rsi": float(rsis[-1]),
            "macd_hist": float(hist),
            "htf_rsi": htf_rsi,
            "buy_score": buy.score(),
            "sell_score": sell.score(),
        }
        if buy.score() > sell.score():
            why = buy.explain("oversold")
            return self._make.signal(AgentAction.TRAIL_BUY, buy.score(), trail, why, details)
        if sell.score() > buy.score():
            why = sell.explain("overbought")
            return self._make.signal(AgentAction.TRAIL_SELL, sell.score(), trail, why, details)
        return self._make.hold(f"RSI {rsis[-1]:.1f}: no exhaustion or divergence", details)

    def _side(self, extreme: list[float], rsis: list[float], sign: float) -> _Side:
        a = self.agent
        recent, look = a.recent_bars, a.divergence_lookback
        finite = [v for v in rsis[-recent:] if v == v]
        if not finite:
            depth = NAN
        elif sign < 0:
            depth = (a.oversold - min(finite)) / a.oversold
        else:
            depth = (max(finite) - a.overbought) / (100.0 - a.overbought)
        exhausted = float(min(1.0, max(0.0, depth * 3.0))) if math.isfinite(depth) else 0.0
        i_prior = _first_extreme(extreme, 0, look - recent, sign)
        i_recent = _first_extreme(extreme, look - recent, look, sign)
        new_extreme = sign * extreme[i_recent] > sign * extreme[i_prior]
        weaker = sign * rsis[i_recent] < sign * rsis[i_prior] - 2.0
        hist_now, hist_before = self._hist[-1], self._hist[-2]
        turn = bool(-sign * (hist_now - hist_before) > 0)
        return _Side(exhausted, bool(new_extreme and weaker), turn, False)
