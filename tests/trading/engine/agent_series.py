"""Synthetic bar series with known shapes for the agent, regime and decision tests."""

from __future__ import annotations

import numpy as np

from trading.engine.market import Bars, timeframe_ms

START_MS = 1_640_995_200_000  # 2022-01-01 00:00 UTC


def bars_from_closes(
    closes: np.ndarray | list[float],
    *,
    volume: np.ndarray | list[float] | float = 100.0,
    wick: float = 0.002,
    timeframe: str = "1h",
    symbol: str = "TESTUSDT",
    start_ms: int = START_MS,
) -> Bars:
    """Bars whose open is the previous close and whose wicks stick out by `wick`."""
    close = np.asarray(closes, dtype=np.float64)
    n = len(close)
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) * (1 + wick)
    low = np.minimum(open_, close) * (1 - wick)
    vol = np.broadcast_to(np.asarray(volume, dtype=np.float64), (n,)).copy()
    stamps = start_ms + np.arange(n, dtype=np.int64) * timeframe_ms(timeframe)
    return Bars.from_arrays(
        stamps, open_, high, low, close, vol, symbol=symbol, timeframe=timeframe
    )


def drifting_closes(
    n: int, pct_per_day: float, *, noise: float = 0.002, bars_per_day: int = 24, seed: int = 1
) -> np.ndarray:
    """A geometric path drifting `pct_per_day` percent a day with Gaussian noise per bar."""
    rng = np.random.default_rng(seed)
    drift = np.log1p(pct_per_day / 100.0) / bars_per_day
    steps = drift + noise * rng.standard_normal(n)
    steps[0] = 0.0
    return 100.0 * np.exp(np.cumsum(steps))


def zigzag_closes(n: int, amplitude: float = 0.003) -> np.ndarray:
    """Closes alternating around 100: no trend, no exhaustion."""
    return 100.0 * (1 + amplitude * (-1.0) ** np.arange(n))
