"""Indicators several agents read, computed once per snapshot on a bounded tail.

Guarantees: each function looks at the last `ANALYSIS_BARS` bars at most (or
a few warm-up lengths for long periods), so an agent's cost does not grow with
the history handed to it; results are cached on the snapshot under a key
naming the indicator and its period, so agents asking for the same thing share
one computation. Values are NaN while an indicator is still warming up.
"""

from __future__ import annotations

import math

import numpy as np

from trading.engine.agents.base import DEFAULT_TRAIL, clamp_trail
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.indicators import atr, rsi
from trading.engine.market import Bars, timeframe_ms

ANALYSIS_BARS = 250


def tail_length(bars: Bars, period: int, extra: int = 0) -> int:
    """Bars to analyse: enough for a TA-Lib-style warm-up of `period`, plus `extra`."""
    return min(len(bars), max(ANALYSIS_BARS, 4 * period + extra))


def atr_series(market: MarketSnapshot, period: int = 14) -> np.ndarray:
    """ATR(period) on the analysis tail of the primary bars."""

    def compute() -> np.ndarray:
        b = market.bars
        n = tail_length(b, period)
        return atr(b.high[-n:], b.low[-n:], b.close[-n:], period)

    return market.memo(("atr", period), compute)


def atr_fraction(market: MarketSnapshot, period: int = 14) -> float:
    """The last ATR(period) as a fraction of the last close."""
    values = atr_series(market, period)
    if not len(values):
        return math.nan
    return float(values[-1] / market.bars.close[-1])


def atr_trail(market: MarketSnapshot, multiple: float, period: int = 14) -> float:
    """A trail of `multiple` ATRs, clamped to the trail bounds (default while warming up)."""
    fraction = atr_fraction(market, period)
    return DEFAULT_TRAIL if math.isnan(fraction) else clamp_trail(multiple * fraction)


def rsi_series(market: MarketSnapshot, period: int = 14) -> np.ndarray:
    """RSI(period) on the analysis tail of the primary bars."""

    def compute() -> np.ndarray:
        b = market.bars
        n = tail_length(b, period)
        return rsi(b.close[-n:], period)

    return market.memo(("rsi", period), compute)


def bars_per_day(timeframe: str) -> float:
    return 86_400_000 / timeframe_ms(timeframe)
