"""Momentum agent: RSI exhaustion, RSI/price divergence, MACD turn, higher-timeframe check.

Guarantees: a buy needs RSI below `oversold` within the last `recent_bars` bars
or a bullish divergence (price's recent low under the prior low while RSI's is
higher); confidence adds up from the oversold depth, the divergence, the MACD
histogram turning up and the higher timeframe's RSI also being low
(multi-timeframe exhaustion). Sells mirror this. With neither exhaustion nor
divergence the agent abstains. Indicators run on a bounded tail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trading.engine.agents.base import AgentAction, AgentSignal, ParamAgent
from trading.engine.agents.common_indicators import atr_trail, rsi_series, tail_length
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.indicators import macd, rsi
from trading.engine.strategy import Param, ParamSpace


@dataclass(frozen=True)
class _Side:
    """Evidence for one direction."""

    exhausted: float  # 0..1 depth past the RSI threshold, 0 = not exhausted
    divergence: bool
    macd_turn: bool
    higher_timeframe: bool

    def score(self) -> float:
        if self.exhausted <= 0 and not self.divergence:
            return 0.0
        score = (0.35 + 0.2 * self.exhausted) if self.exhausted > 0 else 0.0
        score += 0.25 * self.divergence + 0.1 * self.macd_turn + 0.1 * self.higher_timeframe
        return min(1.0, score)

    def explain(self, kind: str) -> str:
        parts = [f"RSI {kind} (depth {self.exhausted:.2f})"] if self.exhausted > 0 else []
        if self.divergence:
            parts.append(f"{'bullish' if kind == 'oversold' else 'bearish'} RSI divergence")
        if self.macd_turn:
            parts.append("MACD histogram turning")
        if self.higher_timeframe:
            parts.append("higher timeframe exhausted too")
        return ", ".join(parts)


@dataclass(frozen=True)
class MomentumAgent(ParamAgent):
    name = "momentum"
    description = "RSI exhaustion and divergence, MACD turn, multi-timeframe confirmation"
    param_space = ParamSpace(
        (
            Param("rsi_period", "int", 14, 5, 40),
            Param("oversold", "float", 30.0, 10.0, 45.0),
            Param("overbought", "float", 70.0, 55.0, 90.0),
            Param("macd_fast", "int", 12, 3, 30),
            Param("macd_slow", "int", 26, 10, 80),
            Param("macd_signal", "int", 9, 3, 30),
            Param("divergence_lookback", "int", 30, 10, 120),
            Param("recent_bars", "int", 8, 3, 40),
            Param("trail_atr_multiple", "float", 2.0, 0.5, 6.0),
        )
    )
    rsi_period: int = 14
    oversold: float = 30.0
    overbought: float = 70.0
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    divergence_lookback: int = 30
    recent_bars: int = 8
    trail_atr_multiple: float = 2.0

    def constraint_errors(self) -> dict[str, str]:
        errors = {}
        if self.macd_fast >= self.macd_slow:
            errors["macd_fast"] = "must be smaller than macd_slow"
        if self.recent_bars >= self.divergence_lookback:
            errors["recent_bars"] = "must be smaller than divergence_lookback"
        if self.oversold >= self.overbought:
            errors["oversold"] = "must be below overbought"
        return errors

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        bars = market.bars
        need = max(self.macd_slow + self.macd_signal, self.rsi_period) + self.divergence_lookback
        if len(bars) < need:
            return self.hold(f"only {len(bars)} bars, need {need}")
        r = rsi_series(market, self.rsi_period)
        n = tail_length(bars, self.macd_slow + self.macd_signal, self.divergence_lookback)
        hist = macd(bars.close[-n:], self.macd_fast, self.macd_slow, self.macd_signal)[2]
        htf_rsi = self._higher_timeframe_rsi(market)
        buy = self._side(bars.low, r, -1.0, hist, htf_rsi)
        sell = self._side(bars.high, r, 1.0, hist, htf_rsi)
        trail = atr_trail(market, self.trail_atr_multiple)
        details = {
            "rsi": float(r[-1]),
            "macd_hist": float(hist[-1]),
            "htf_rsi": htf_rsi,
            "buy_score": buy.score(),
            "sell_score": sell.score(),
        }
        if buy.score() > sell.score():
            why = buy.explain("oversold")
            return self.signal(AgentAction.TRAIL_BUY, buy.score(), trail, why, **details)
        if sell.score() > buy.score():
            why = sell.explain("overbought")
            return self.signal(AgentAction.TRAIL_SELL, sell.score(), trail, why, **details)
        return self.hold(f"RSI {r[-1]:.1f}: no exhaustion or divergence", **details)

    def _side(
        self, extreme: np.ndarray, r: np.ndarray, sign: float, hist: np.ndarray, htf_rsi: float
    ) -> _Side:
        """sign=-1 looks for buy evidence at lows, +1 for sell evidence at highs."""
        recent, look = self.recent_bars, self.divergence_lookback
        recent_rsi = r[-recent:]
        if sign < 0:
            depth = (self.oversold - np.nanmin(recent_rsi)) / self.oversold
        else:
            depth = (np.nanmax(recent_rsi) - self.overbought) / (100.0 - self.overbought)
        exhausted = float(min(1.0, max(0.0, depth * 3.0))) if math.isfinite(depth) else 0.0
        window = sign * extreme[-look:]
        rsi_window = sign * r[-look:]
        i_prior = int(np.argmax(window[:-recent]))
        i_recent = len(window) - recent + int(np.argmax(window[-recent:]))
        new_extreme = window[i_recent] > window[i_prior]
        weaker = rsi_window[i_recent] < rsi_window[i_prior] - 2.0
        divergence = bool(new_extreme and weaker)
        turn = bool(-sign * (hist[-1] - hist[-2]) > 0)
        if sign < 0:
            htf = math.isfinite(htf_rsi) and htf_rsi < self.oversold + 10.0
        else:
            htf = math.isfinite(htf_rsi) and htf_rsi > self.overbought - 10.0
        return _Side(exhausted, divergence, turn, bool(htf))

    def _higher_timeframe_rsi(self, market: MarketSnapshot) -> float:
        htf = market.higher_timeframe
        if htf is None or len(htf) < 3 * self.rsi_period:
            return math.nan
        n = tail_length(htf, self.rsi_period)
        return float(rsi(htf.close[-n:], self.rsi_period)[-1])
