"""Incremental (bar-by-bar) indicators for the live loop.

Guarantees: every `*State` class keeps only the state its indicator needs and
returns from `update(...)` the value the batch function gives at the same bar
(NaN while warming up), by repeating the batch kernel's arithmetic in the same
order. Tests check equality with the batch functions on real data.
"""

from trading.engine.indicators.incremental.averages import EMAState, SMAState, WMAState
from trading.engine.indicators.incremental.oscillators import (
    MACDState,
    RSIState,
    StochasticState,
    ZScoreState,
)
from trading.engine.indicators.incremental.swings import SwingState
from trading.engine.indicators.incremental.trend import ADXState, IchimokuState
from trading.engine.indicators.incremental.volatility import (
    ATRState,
    BollingerState,
    DonchianState,
    RealizedVolatilityState,
    TrueRangeState,
)
from trading.engine.indicators.incremental.volume import OBVState, SessionVWAPState, VWAPState

__all__ = [
    "ADXState",
    "ATRState",
    "BollingerState",
    "DonchianState",
    "EMAState",
    "IchimokuState",
    "MACDState",
    "OBVState",
    "RSIState",
    "RealizedVolatilityState",
    "SMAState",
    "SessionVWAPState",
    "StochasticState",
    "SwingState",
    "TrueRangeState",
    "VWAPState",
    "WMAState",
    "ZScoreState",
]
