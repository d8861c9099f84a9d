"""Features and labels for the machine-learning seeds.

Guarantees:
- `market_features(bars)` row t is computed from bars 0..t only (causal
  indicators, the Donchian range of the bars before t); rows with any
  non-finite value are unusable and the walk-forward skips them;
- the matrix does not depend on any seed parameter, so it is computed once per
  `Bars` object and cached (read-only) for the many genomes a GA evaluates;
- `forward_log_return(close, h)` row t is log(close[t+h] / close[t]): it looks
  AHEAD and is only ever used as a training label for rows whose horizon has
  ended before the refit bar (see `walk_forward`).
"""

from __future__ import annotations

import functools

import numpy as np

from trading.engine.indicators import atr, donchian, ema, realized_volatility, rsi, sma, zscore
from trading.engine.market import Bars

FEATURE_NAMES: tuple[str, ...] = (
    "log_return_1",
    "log_return_4",
    "log_return_24",
    "rsi_14",
    "zscore_48",
    "atr_14_fraction",
    "volatility_ratio_24_168",
    "volume_ratio_24",
    "ema_spread_12_26",
    "range_position_24",
)


def lagged_log_return(close: np.ndarray, lag: int) -> np.ndarray:
    """log(close[t] / close[t-lag]); NaN for the first `lag` bars."""
    out = np.full(len(close), np.nan)
    if len(close) > lag:
        out[lag:] = np.log(close[lag:] / close[:-lag])
    return out


def forward_log_return(close: np.ndarray, horizon: int) -> np.ndarray:
    """log(close[t+horizon] / close[t]) — FUTURE data, a training label only."""
    out = np.full(len(close), np.nan)
    if len(close) > horizon:
        out[:-horizon] = np.log(close[horizon:] / close[:-horizon])
    return out


@functools.lru_cache(maxsize=8)
def market_features(bars: Bars) -> np.ndarray:
    """The (n_bars, len(FEATURE_NAMES)) feature matrix of `bars`, read-only."""
    close, high, low = bars.close, bars.high, bars.low
    upper, lower, _ = donchian(high, low, 24)
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = (
            lagged_log_return(close, 1),
            lagged_log_return(close, 4),
            lagged_log_return(close, 24),
            (rsi(close, 14) - 50.0) / 50.0,
            zscore(close, 48),
            atr(high, low, close, 14) / close,
            np.log(realized_volatility(close, 24) / realized_volatility(close, 168)),
            np.log1p(bars.volume / sma(bars.volume, 24)),
            (ema(close, 12) - ema(close, 26)) / close,
            (close - lower) / (upper - lower),
        )
    matrix = np.column_stack(columns)
    matrix[~np.isfinite(matrix)] = np.nan
    matrix.setflags(write=False)
    return matrix
