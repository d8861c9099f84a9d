"""Incremental form of `RegimeAgent`: the regime features from rolling sums.

Guarantees: see `protocol`. Every feature `detect_regime` computes over the
last 20 days (returns' volatility, 7-day momentum, volume alignment, path
efficiency, mean volumes) comes from windows advanced once per candle; ADX is
the only one recomputed, on the same 6 x period bar tail, by the compiled
kernel the batch function uses. The label, confidence and volatility state are
`trading.engine.regime`'s own rules applied to those features.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from trading.engine.agents.base import AgentSignal
from trading.engine.agents.market_regime import _ACTIONS, RegimeAgent
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.feeds import Candle
from trading.engine.indicators.kernels.directional import directional_movement
from trading.engine.kernel.incremental.protocol import SignalMaker
from trading.engine.kernel.incremental.series import RollingStats, SharedSeries
from trading.engine.market import timeframe_ms
from trading.engine.regime import (
    MIN_BARS,
    MOMENTUM_DAYS,
    VOLATILITY_DAYS,
    Regime,
    RegimeLabel,
    _confidence,
    _volatility_state,
)
from trading.engine.risk_profiles import REFERENCE_DAILY_VOLATILITY, TRAIL_STATE_MULTIPLIERS

ADX_PERIOD = 14


class _Windows:
    """The rolling sums of one timeframe's regime features."""

    def __init__(self, timeframe: str) -> None:
        self.per_day = 86_400_000 / timeframe_ms(timeframe)
        self.span = int(round(VOLATILITY_DAYS * self.per_day)) + 1
        self.momentum = int(round(MOMENTUM_DAYS * self.per_day))
        self.day_bars = max(14, int(round(self.per_day)))
        self.closes: deque[float] = deque(maxlen=self.span)
        self.log_close = math.nan
        self.returns = RollingStats(self.span - 1)
        self.recent_returns = RollingStats(self.day_bars)
        self.aligned = RollingStats(self.momentum)
        self.gross = RollingStats(self.momentum)
        self.path = RollingStats(self.momentum)
        self.volume = RollingStats(self.span)
        self.recent_volume = RollingStats(self.momentum)

    def push(self, candle: Candle) -> None:
        close, volume = candle.close, candle.volume
        log_close = math.log(close)
        if self.closes:
            change = log_close - self.log_close
            self.returns.push(change)
            self.recent_returns.push(change)
            self.aligned.push(volume * change)
            self.gross.push(volume * abs(change))
            self.path.push(abs(close - self.closes[-1]))
            self.recent_volume.push(volume)  # the volumes paired with the momentum returns
        self.log_close = log_close
        self.closes.append(close)
        self.volume.push(volume)


class IncrementalRegime:
    def __init__(self, agent: RegimeAgent, series: SharedSeries) -> None:
        self.agent = agent
        self._make = SignalMaker(agent.name)
        self._series = series
        self._windows: _Windows | None = None
        self._adx_out = np.empty((3, 6 * ADX_PERIOD))

    @staticmethod
    def supports(agent: RegimeAgent) -> bool:
        return True

    @property
    def name(self) -> str:
        return self.agent.name

    def update(self, candle: Candle) -> None:
        self._series.sync(candle)
        if self._windows is None:
            self._windows = _Windows(candle.timeframe)
        self._windows.push(candle)

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        a = self.agent
        if market.higher_timeframe is not None or self._windows is None:
            return a.analyze(market)
        bars = market.bars
        if len(bars) < MIN_BARS:
            return self._make.hold(f"only {len(bars)} bars, need {MIN_BARS}")
        features = self._features(self._windows, market)
        regime = _classify(features, a.momentum_threshold_pct)
        ratio = min(2.0, max(0.5, features["daily_volatility"] / REFERENCE_DAILY_VOLATILITY))
        state = regime.volatility_state.value
        trail = a.trail_base * TRAIL_STATE_MULTIPLIERS[state] * ratio
        confidence = regime.confidence
        if regime.label is RegimeLabel.SIDEWAYS:
            confidence *= a.sideways_weight
        why = (
            f"{regime.label.value} ({bars.timeframe}): momentum "
            f"{features['momentum_pct_per_day']:+.2f}%/day, daily volatility "
            f"{features['daily_volatility']:.2%}, volume x{features['volume_strength']:.2f}; "
            f"{state}"
        )
        return self._make.signal(_ACTIONS[regime.label], confidence, trail, why, features)

    def _features(self, w: _Windows, market: MarketSnapshot) -> dict[str, float]:
        span = min(len(market.bars), w.span)
        momentum_bars = min(span - 1, w.momentum)
        momentum_days = momentum_bars / w.per_day
        closes = w.closes
        move = closes[-1] / closes[-1 - momentum_bars] - 1.0
        daily_vol = float(w.returns.sample_std() * math.sqrt(w.per_day))
        recent_vol = float(w.recent_returns.sample_std() * math.sqrt(w.per_day))
        aligned, gross, path = w.aligned.total, w.gross.total, w.path.total
        mean_volume = float(w.volume.mean())
        features = {
            "momentum_pct_per_day": 100.0 * move / momentum_days,
            "momentum_days": momentum_days,
            "return_7d": move,
            "daily_volatility": daily_vol,
            "recent_volatility": recent_vol,
            "volatility_ratio": recent_vol / daily_vol if daily_vol > 0 else 1.0,
            "t_stat": move / (daily_vol * math.sqrt(momentum_days)) if daily_vol > 0 else 0.0,
            "volume_strength": w.recent_volume.mean() / mean_volume if mean_volume > 0 else 1.0,
            "volume_alignment": aligned / gross if gross > 0 else 0.0,
            "efficiency_ratio": abs(closes[-1] - closes[-1 - momentum_bars]) / path
            if path > 0
            else 0.0,
            "adx": self._adx(market),
            "coverage": min(1.0, momentum_days / MOMENTUM_DAYS),
        }
        return features

    def _adx(self, market: MarketSnapshot) -> float:
        bars = market.bars
        tail = min(len(bars), 6 * ADX_PERIOD)
        out = self._adx_out[:, :tail]
        directional_movement(
            bars.high[-tail:], bars.low[-tail:], bars.close[-tail:], ADX_PERIOD,
            out[0], out[1], out[2],
        )
        return float(out[2, -1])


def _classify(features: dict[str, float], threshold: float) -> Regime:
    momentum = features["momentum_pct_per_day"]
    if momentum > threshold:
        label = RegimeLabel.BULL
    elif momentum < -threshold:
        label = RegimeLabel.BEAR
    else:
        label = RegimeLabel.SIDEWAYS
    return Regime(
        label=label,
        confidence=_confidence(label, features, threshold),
        volatility_state=_volatility_state(features),
        features=features,
    )
