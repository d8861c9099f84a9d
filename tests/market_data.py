"""Real Binance bars from `shared/data` for tests and benchmarks.

The directory comes from ORGANISM_DATA_DIR, else `../shared/data` beside the
checkout. A missing file is an error, never a skipped test.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pandas as pd

from trading.engine.market import Bars

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    configured = os.environ.get("ORGANISM_DATA_DIR")
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        raise FileNotFoundError(
            f"market data directory {path} not found; set ORGANISM_DATA_DIR to shared/data"
        )
    return path


@functools.lru_cache(maxsize=16)
def _frame(filename: str) -> pd.DataFrame:
    return pd.read_csv(data_dir() / filename)


def load_bars(
    symbol: str = "BTCUSDT",
    timeframe: str = "1h",
    *,
    start: str | None = None,
    end: str | None = None,
    limit: int | None = None,
) -> Bars:
    """Bars of e.g. 'BTCUSDT' '1h' (or '5m' for the 2024 files), optionally windowed by ISO dates."""
    suffix = "1h" if timeframe == "1h" else "5m_2024"
    df = _frame(f"binance_{symbol.lower()}_{suffix}.csv.gz")
    if start is not None:
        df = df[df["timestamp"] >= pd.Timestamp(start, tz="UTC").value // 1_000_000]
    if end is not None:
        df = df[df["timestamp"] < pd.Timestamp(end, tz="UTC").value // 1_000_000]
    if limit is not None:
        df = df.iloc[:limit]
    return Bars.from_arrays(
        df["timestamp"].to_numpy(),
        df["open"].to_numpy(),
        df["high"].to_numpy(),
        df["low"].to_numpy(),
        df["close"].to_numpy(),
        df["volume"].to_numpy(),
        symbol=symbol,
        timeframe=timeframe,
    )


def load_funding(symbol: str = "BTCUSDT") -> tuple[np.ndarray, np.ndarray]:
    """(timestamps_ms, funding_rate) of the perpetual's 8h funding."""
    df = _frame(f"binance_{symbol.lower()}_perp_funding_8h.csv.gz")
    return df["timestamp"].to_numpy(np.int64), df["funding_rate"].to_numpy(np.float64)
