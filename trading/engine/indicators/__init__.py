"""Technical indicators over float64 numpy arrays, batch and incremental.

Guarantees shared by every function here:
- the output has the input's length, float64, NaN during warm-up;
- the value at bar t depends on bars 0..t only: appending bars never changes
  an earlier value (no lookahead; property-tested);
- where TA-Lib has the same indicator (SMA, EMA, WMA, RSI, MACD, ATR, TRANGE,
  BBANDS, STOCH, OBV, ADX, PLUS_DI, MINUS_DI; Donchian = MAX/MIN one bar
  later) the values match TA-Lib to 1e-9 relative with identical NaN masks;
- leading NaNs in an input are skipped as TA-Lib's wrapper does, so indicators
  can be chained (`sma(rsi(close), 5)`);
- every incremental `*State` class returns from `update` the value the batch
  function gives at the same bar.
Conventions that are choices, not TA-Lib facts, are stated in each module:
Donchian excludes the current bar, Ichimoku spans are the displaced cloud
known at t (no chikou), swing points appear when confirmed, realised
volatility uses ddof=1, z-score and Bollinger use ddof=0.
"""

from trading.engine.indicators.incremental import (
    ADXState,
    ATRState,
    BollingerState,
    DonchianState,
    EMAState,
    IchimokuState,
    MACDState,
    OBVState,
    RealizedVolatilityState,
    RSIState,
    SessionVWAPState,
    SMAState,
    StochasticState,
    SwingState,
    TrueRangeState,
    VWAPState,
    WMAState,
    ZScoreState,
)
from trading.engine.indicators.moving_averages import ema, sma, wma
from trading.engine.indicators.oscillators import macd, rsi, stochastic, zscore
from trading.engine.indicators.swings import swing_highs, swing_lows
from trading.engine.indicators.trend import (
    Ichimoku,
    adx,
    directional_indicators,
    ichimoku,
    minus_di,
    plus_di,
)
from trading.engine.indicators.volatility import (
    atr,
    bollinger,
    donchian,
    realized_volatility,
    true_range,
)
from trading.engine.indicators.volume import obv, volume_ma, vwap_rolling, vwap_session

__all__ = [
    "ADXState",
    "ATRState",
    "BollingerState",
    "DonchianState",
    "EMAState",
    "Ichimoku",
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
    "adx",
    "atr",
    "bollinger",
    "directional_indicators",
    "donchian",
    "ema",
    "ichimoku",
    "macd",
    "minus_di",
    "obv",
    "plus_di",
    "realized_volatility",
    "rsi",
    "sma",
    "stochastic",
    "swing_highs",
    "swing_lows",
    "true_range",
    "volume_ma",
    "vwap_rolling",
    "vwap_session",
    "wma",
    "zscore",
]
