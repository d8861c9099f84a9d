"""A seeded synthetic market for demos when no real data is reachable.

It is clearly labelled (exchange "synthetic", symbols ending in "-SYNTH") so it is
never mistaken for real prices. Prices follow a regime-switching geometric
Brownian motion (bull, bear, sideways with different drift and volatility) with
intrabar highs/lows and log-normal volume, so strategies and agents have
trends, ranges and volatility clusters to work with. OHLC is always consistent.
"""

from __future__ import annotations

import numpy as np

from trading.engine.market import Bars, periods_per_year, timeframe_ms

# (annual drift, annual volatility) per regime
_REGIMES = np.array([[0.8, 0.55], [-0.6, 0.75], [0.0, 0.35]])
_MEAN_REGIME_BARS = 24 * 20


def synthetic_bars(
    *,
    n: int,
    start_ms: int,
    timeframe: str = "1h",
    start_price: float = 30_000.0,
    seed: int = 7,
    symbol: str = "BTC-SYNTH/USDT",
) -> Bars:
    """`n` closed bars from `start_ms`, deterministic for a given seed."""
    if n <= 0:
        raise ValueError("n must be positive")
    rng = np.random.default_rng(seed)
    ppy = periods_per_year(timeframe)
    switches = rng.random(n) < 1.0 / _MEAN_REGIME_BARS
    regime_draws = rng.integers(0, len(_REGIMES), size=n)
    regime = np.empty(n, dtype=np.int64)
    current = 2
    for i in range(n):
        if switches[i]:
            current = int(regime_draws[i])
        regime[i] = current
    drift = _REGIMES[regime, 0] / ppy
    vol = _REGIMES[regime, 1] / np.sqrt(ppy)
    log_ret = drift - 0.5 * vol**2 + vol * rng.standard_normal(n)
    close = start_price * np.exp(np.cumsum(log_ret))
    open_ = np.empty(n)
    open_[0] = start_price
    open_[1:] = close[:-1]
    spread = np.abs(rng.standard_normal((2, n))) * vol * 0.6
    high = np.maximum(open_, close) * (1 + spread[0])
    low = np.minimum(open_, close) * (1 - spread[1])
    volume = rng.lognormal(mean=3.0, sigma=0.5, size=n) * (1 + 20 * np.abs(log_ret))
    timestamps = start_ms + np.arange(n, dtype=np.int64) * timeframe_ms(timeframe)
    return Bars.from_arrays(timestamps, open_, high, low, close, volume, symbol=symbol, timeframe=timeframe)
