"""Market regime: BULL / BEAR / SIDEWAYS with a confidence, and a volatility state.

Guarantees: `detect_regime(bars)` reads closed bars only and at most the last
20 days of them (plus the ADX warm-up). The label follows the reference rule:
7-day momentum above +1%/day is BULL, below -1%/day BEAR, otherwise SIDEWAYS.
Confidence in [0, 1] grows with the margin past the threshold, with the move's
size against 20-day volatility (a t-statistic) and with volume confirming the
direction; it shrinks when less than 7 days of bars are available. The
volatility state (for trail widths) is `volatile` when the last day's
volatility is 1.5x the 20-day figure, `calm` under 0.67x, else `trending` when
ADX >= 25 and `ranging` below. Every input feature is returned for the journal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np

from trading.engine.indicators import adx
from trading.engine.market import Bars, timeframe_ms

MOMENTUM_DAYS = 7
VOLATILITY_DAYS = 20
MOMENTUM_THRESHOLD_PCT = 1.0  # %/day
TREND_ADX = 25.0
VOLATILE_RATIO = 1.5
CALM_RATIO = 0.67
MIN_BARS = 30


class RegimeLabel(StrEnum):
    BULL = "BULL"
    BEAR = "BEAR"
    SIDEWAYS = "SIDEWAYS"


class VolatilityState(StrEnum):
    TRENDING = "trending"
    RANGING = "ranging"
    VOLATILE = "volatile"
    CALM = "calm"


@dataclass(frozen=True)
class Regime:
    label: RegimeLabel
    confidence: float
    volatility_state: VolatilityState
    features: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label.value,
            "confidence": self.confidence,
            "volatility_state": self.volatility_state.value,
            "features": dict(self.features),
        }


def detect_regime(
    bars: Bars,
    *,
    momentum_threshold_pct: float = MOMENTUM_THRESHOLD_PCT,
    adx_period: int = 14,
) -> Regime:
    """The regime at the last closed bar; ValueError with fewer than 30 bars."""
    if len(bars) < MIN_BARS:
        raise ValueError(f"regime detection needs at least {MIN_BARS} bars, got {len(bars)}")
    per_day = 86_400_000 / timeframe_ms(bars.timeframe)
    features = _features(bars, per_day, adx_period)
    momentum = features["momentum_pct_per_day"]
    if momentum > momentum_threshold_pct:
        label = RegimeLabel.BULL
    elif momentum < -momentum_threshold_pct:
        label = RegimeLabel.BEAR
    else:
        label = RegimeLabel.SIDEWAYS
    confidence = _confidence(label, features, momentum_threshold_pct)
    return Regime(
        label=label,
        confidence=confidence,
        volatility_state=_volatility_state(features),
        features=MappingProxyType(features),
    )


def _features(bars: Bars, per_day: float, adx_period: int) -> dict[str, float]:
    span = min(len(bars), int(round(VOLATILITY_DAYS * per_day)) + 1)
    close, volume = bars.close[-span:], bars.volume[-span:]
    returns = np.diff(np.log(close))
    momentum_bars = min(len(close) - 1, int(round(MOMENTUM_DAYS * per_day)))
    momentum_days = momentum_bars / per_day
    move = close[-1] / close[-1 - momentum_bars] - 1.0
    daily_vol = float(np.std(returns, ddof=1) * math.sqrt(per_day))
    day_bars = max(14, int(round(per_day)))
    recent_vol = float(np.std(returns[-day_bars:], ddof=1) * math.sqrt(per_day))
    recent_returns = returns[-momentum_bars:]
    recent_volume = volume[-momentum_bars:]
    aligned = float(np.sum(recent_volume * recent_returns))
    gross = float(np.sum(recent_volume * np.abs(recent_returns)))
    path = float(np.sum(np.abs(np.diff(close[-momentum_bars - 1 :]))))
    adx_tail = min(len(bars), 6 * adx_period)
    adx_values = adx(
        bars.high[-adx_tail:], bars.low[-adx_tail:], bars.close[-adx_tail:], adx_period
    )
    mean_volume = float(np.mean(volume))
    features = {
        "momentum_pct_per_day": 100.0 * move / momentum_days,
        "momentum_days": momentum_days,
        "return_7d": move,
        "daily_volatility": daily_vol,
        "recent_volatility": recent_vol,
        "volatility_ratio": recent_vol / daily_vol if daily_vol > 0 else 1.0,
        "t_stat": move / (daily_vol * math.sqrt(momentum_days)) if daily_vol > 0 else 0.0,
        "volume_strength": float(np.mean(recent_volume)) / mean_volume if mean_volume > 0 else 1.0,
        "volume_alignment": aligned / gross if gross > 0 else 0.0,
        "efficiency_ratio": abs(close[-1] - close[-1 - momentum_bars]) / path if path > 0 else 0.0,
        "adx": float(adx_values[-1]),
        "coverage": min(1.0, momentum_days / MOMENTUM_DAYS),
    }
    return {name: float(value) for name, value in features.items()}


def _confidence(label: RegimeLabel, f: Mapping[str, float], threshold: float) -> float:
    momentum, t_stat = f["momentum_pct_per_day"], f["t_stat"]
    significance = min(1.0, abs(t_stat) / 2.0)
    if label is RegimeLabel.SIDEWAYS:
        flatness = 1.0 - min(1.0, abs(momentum) / threshold)
        score = 0.5 * flatness + 0.5 * (1.0 - significance)
    else:
        direction = 1.0 if label is RegimeLabel.BULL else -1.0
        margin = min(1.0, abs(momentum) / threshold - 1.0)
        volume = min(1.0, max(0.0, 0.5 + 0.5 * direction * f["volume_alignment"]))
        volume *= min(1.0, f["volume_strength"])
        score = 0.4 * margin + 0.4 * significance + 0.2 * volume
    return float(min(1.0, max(0.0, (0.3 + 0.7 * score) * f["coverage"])))


def _volatility_state(f: Mapping[str, float]) -> VolatilityState:
    ratio = f["volatility_ratio"]
    if ratio >= VOLATILE_RATIO:
        return VolatilityState.VOLATILE
    if ratio <= CALM_RATIO:
        return VolatilityState.CALM
    adx_value = f["adx"]
    if math.isfinite(adx_value) and adx_value >= TREND_ADX:
        return VolatilityState.TRENDING
    return VolatilityState.RANGING
