"""OHLCV containers handed to every engine.

Guarantees: arrays are float64 (timestamps int64 milliseconds, bar OPEN time, UTC),
all the same length, timestamps strictly increasing. `Bars` is immutable: engines
read it, they never write into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TIMEFRAME_MS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}


def timeframe_ms(timeframe: str) -> int:
    """Milliseconds in one bar of `timeframe`; ValueError for an unknown timeframe."""
    try:
        return TIMEFRAME_MS[timeframe]
    except KeyError:
        raise ValueError(
            f"unknown timeframe {timeframe!r}; expected one of {', '.join(TIMEFRAME_MS)}"
        ) from None


def periods_per_year(timeframe: str) -> float:
    """Bars in a 24/7 crypto year: 8760 for 1h, 365 for 1d."""
    return 365 * 86_400_000 / timeframe_ms(timeframe)


@dataclass(frozen=True, eq=False)
class Bars:
    """Closed OHLCV bars of one instrument and timeframe."""

    timestamps: np.ndarray  # int64 ms, bar open time
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    symbol: str = ""
    timeframe: str = "1h"
    funding_rate: np.ndarray | None = field(default=None)  # aligned to bars, NaN when unknown

    def __post_init__(self) -> None:
        n = len(self.timestamps)
        for name in ("open", "high", "low", "close", "volume"):
            arr = getattr(self, name)
            if len(arr) != n:
                raise ValueError(f"Bars.{name} has {len(arr)} values, timestamps has {n}")
        if self.funding_rate is not None and len(self.funding_rate) != n:
            raise ValueError("Bars.funding_rate must align with the bars")

    def __len__(self) -> int:
        return len(self.timestamps)

    @classmethod
    def from_arrays(
        cls,
        timestamps: np.ndarray,
        open: np.ndarray,
        high: np.ndarray,
        low: np.ndarray,
        close: np.ndarray,
        volume: np.ndarray,
        *,
        symbol: str = "",
        timeframe: str = "1h",
        funding_rate: np.ndarray | None = None,
    ) -> Bars:
        """Build `Bars`, converting inputs to contiguous float64 / int64 arrays."""

        def f64(a: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(a, dtype=np.float64)

        return cls(
            timestamps=np.ascontiguousarray(timestamps, dtype=np.int64),
            open=f64(open),
            high=f64(high),
            low=f64(low),
            close=f64(close),
            volume=f64(volume),
            symbol=symbol,
            timeframe=timeframe,
            funding_rate=None if funding_rate is None else f64(funding_rate),
        )

    def slice(self, start: int, stop: int) -> Bars:
        """Bars[start:stop] as a new `Bars` (views, no copy)."""
        fr = None if self.funding_rate is None else self.funding_rate[start:stop]
        return Bars(
            timestamps=self.timestamps[start:stop],
            open=self.open[start:stop],
            high=self.high[start:stop],
            low=self.low[start:stop],
            close=self.close[start:stop],
            volume=self.volume[start:stop],
            symbol=self.symbol,
            timeframe=self.timeframe,
            funding_rate=fr,
        )
