"""Sentiment agent: contrarian votes at extremes of injected sentiment inputs.

Guarantees: inputs are injected on the snapshot, never fetched: perpetual
funding rates (`funding_rates`, else the finite values of `bars.funding_rate`)
and a 0..100 fear/greed series. Funding is extreme when its z-score over the
last `funding_window` readings reaches `funding_z` or its size reaches
`funding_extreme`; crowded longs (high funding) vote TRAIL_SELL, crowded shorts
TRAIL_BUY. Fear at or under `fear` votes TRAIL_BUY, greed at or over `greed`
TRAIL_SELL. Agreeing extremes and an RSI on the same side add confidence;
opposing extremes are an active HOLD. No input at all: HOLD with confidence 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trading.engine.agents.base import AgentAction, AgentSignal, ParamAgent
from trading.engine.agents.common_indicators import atr_trail, rsi_series
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.strategy import Param, ParamSpace

_Vote = tuple[int, float, str]  # direction (+1 buy / -1 sell), strength 0.5..1, why


@dataclass(frozen=True)
class SentimentAgent(ParamAgent):
    name = "sentiment"
    description = "contrarian signals at funding-rate and fear/greed extremes"
    param_space = ParamSpace(
        (
            Param("funding_window", "int", 90, 10, 1000, description="funding readings"),
            Param("funding_z", "float", 2.0, 1.0, 5.0),
            Param("funding_extreme", "float", 0.0005, 0.0001, 0.01, description="per period"),
            Param("fear", "float", 25.0, 5.0, 45.0),
            Param("greed", "float", 75.0, 55.0, 95.0),
            Param("trail_atr_multiple", "float", 2.0, 0.5, 6.0),
        )
    )
    funding_window: int = 90
    funding_z: float = 2.0
    funding_extreme: float = 0.0005
    fear: float = 25.0
    greed: float = 75.0
    trail_atr_multiple: float = 2.0

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        funding = _funding_series(market)
        fear_greed = _finite(market.fear_greed)
        if not len(funding) and not len(fear_greed):
            return self.hold("no sentiment input (funding rate or fear/greed)")
        votes: list[_Vote] = []
        details: dict[str, float] = {}
        if len(funding) >= 10:
            vote = self._funding_vote(funding[-self.funding_window :], details)
            if vote is not None:
                votes.append(vote)
        if len(fear_greed):
            details["fear_greed"] = float(fear_greed[-1])
            vote = self._fear_greed_vote(float(fear_greed[-1]))
            if vote is not None:
                votes.append(vote)
        if not votes:
            return self.hold("sentiment is not at an extreme", **details)
        directions = {d for d, _, _ in votes}
        reasons = "; ".join(why for _, _, why in votes)
        if len(directions) > 1:
            return self.signal(AgentAction.HOLD, 0.3, 0.02, f"inputs disagree: {reasons}")
        direction = directions.pop()
        strength = sum(s for _, s, _ in votes) / len(votes)
        rsi = rsi_series(market)
        last_rsi = float(rsi[-1]) if len(rsi) else math.nan
        confirms = (direction > 0 and last_rsi < 40) or (direction < 0 and last_rsi > 60)
        conf = 0.35 + 0.4 * strength + 0.1 * (len(votes) - 1) + 0.1 * confirms
        action = AgentAction.TRAIL_BUY if direction > 0 else AgentAction.TRAIL_SELL
        trail = atr_trail(market, self.trail_atr_multiple)
        details["rsi"] = last_rsi
        return self.signal(action, conf, trail, f"contrarian: {reasons}", **details)

    def _funding_vote(self, window: np.ndarray, details: dict[str, float]) -> _Vote | None:
        last, history = float(window[-1]), window[:-1]
        std = float(np.std(history))
        z = (last - float(np.mean(history))) / std if std > 0 else 0.0
        details["funding_rate"], details["funding_z"] = last, z
        by_z, by_size = abs(z) >= self.funding_z, abs(last) >= self.funding_extreme
        if not (by_z or by_size):
            return None
        direction = -int(np.sign(z if by_z else last))
        if direction == 0:
            return None
        strength = min(
            1.0, max(0.5, abs(z) / (2 * self.funding_z), abs(last) / (2 * self.funding_extreme))
        )
        crowd = "longs" if direction < 0 else "shorts"
        return direction, strength, f"funding {last:.4%} (z {z:+.1f}): crowded {crowd}"

    def _fear_greed_vote(self, value: float) -> _Vote | None:
        if value <= self.fear:
            strength = 0.5 + 0.5 * (self.fear - value) / self.fear
            return 1, strength, f"extreme fear ({value:.0f})"
        if value >= self.greed:
            strength = 0.5 + 0.5 * (value - self.greed) / (100.0 - self.greed)
            return -1, strength, f"extreme greed ({value:.0f})"
        return None


def _finite(values: np.ndarray | None) -> np.ndarray:
    if values is None:
        return np.empty(0)
    return values[np.isfinite(values)]


def _funding_series(market: MarketSnapshot) -> np.ndarray:
    if market.funding_rates is not None:
        return _finite(market.funding_rates)
    return _finite(market.bars.funding_rate)
