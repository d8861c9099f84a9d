"""The market data a GA scores genomes on, and the per-process cache that holds it.

Guarantees:
- a `Dataset` holds, per instrument, the bars from the start of its history
  up to the end of the scored window (never later bars) and the scored window
  [start, stop) as bar indices; bars before `start` only warm indicators up;
- a `DatasetSpec` names a dataset by JSON-safe values; its `key` is canonical
  (the same spec always gives the same key), so a Celery worker can be handed
  the key and rebuild or reuse exactly the same data;
- `DatasetCache.get` loads a key at most once per process while it stays in
  the cache (workers load market data once and reuse it); loading is
  thread-safe;
- funding rates are aligned causally: bar t carries the last rate settled at
  or before bar t's close.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trading.engine.candle_files import read_candle_file, read_funding_file
from trading.engine.market import Bars, timeframe_ms


@dataclass(frozen=True)
class DatasetSpec:
    """Instruments, timeframe and the scored window [start_ms, end_ms) with warm-up bars."""

    symbols: tuple[str, ...]
    timeframe: str
    start_ms: int
    end_ms: int
    warmup_bars: int = 0
    funding: bool = True

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("a dataset needs at least one symbol")
        timeframe_ms(self.timeframe)
        if self.start_ms >= self.end_ms:
            raise ValueError("DatasetSpec: start_ms must be before end_ms")
        if self.warmup_bars < 0:
            raise ValueError("DatasetSpec.warmup_bars must be >= 0")
        object.__setattr__(self, "symbols", tuple(self.symbols))

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbols": list(self.symbols),
            "timeframe": self.timeframe,
            "start_ms": int(self.start_ms),
            "end_ms": int(self.end_ms),
            "warmup_bars": int(self.warmup_bars),
            "funding": self.funding,
        }

    @property
    def key(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_key(cls, key: str) -> DatasetSpec:
        data = json.loads(key)
        data["symbols"] = tuple(data["symbols"])
        return cls(**data)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Bars of one or more instruments and, for each, the window of bars that is scored."""

    key: str
    bars: tuple[Bars, ...]
    windows: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not self.bars or len(self.bars) != len(self.windows):
            raise ValueError("a dataset needs bars and one scored window per instrument")
        for bars, (start, stop) in zip(self.bars, self.windows, strict=True):
            if not 0 <= start < stop <= len(bars) or stop - start < 2:
                raise ValueError(f"{bars.symbol}: invalid scored window [{start}, {stop})")

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(b.symbol for b in self.bars)

    @property
    def timeframe(self) -> str:
        return self.bars[0].timeframe

    @classmethod
    def from_bars(
        cls,
        bars: Sequence[Bars],
        *,
        key: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> Dataset:
        """Each instrument scored on [start_ms, end_ms) (default: all its bars), earlier
        bars kept for warm-up, later ones dropped."""
        kept, windows = [], []
        for b in bars:
            start = 0 if start_ms is None else int(np.searchsorted(b.timestamps, start_ms))
            stop = len(b) if end_ms is None else int(np.searchsorted(b.timestamps, end_ms))
            kept.append(b.slice(0, stop))
            windows.append((start, stop))
        return cls(key=key, bars=tuple(kept), windows=tuple(windows))

    def window(self, start_ms: int, end_ms: int, *, key: str) -> Dataset:
        """The same instruments scored on [start_ms, end_ms) (e.g. an out-of-sample split)."""
        return Dataset.from_bars(self.bars, key=key, start_ms=start_ms, end_ms=end_ms)

    def scored_bars(self, index: int) -> Bars:
        start, stop = self.windows[index]
        return self.bars[index].slice(start, stop)


def align_funding(bars: Bars, stamps: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """The last funding rate settled at or before each bar's close (NaN before the first)."""
    closes_at = bars.timestamps + timeframe_ms(bars.timeframe)
    latest = np.searchsorted(stamps, closes_at, side="right") - 1
    out = np.full(len(bars), np.nan)
    known = latest >= 0
    out[known] = rates[latest[known]]
    return out


def with_funding(bars: Bars, stamps: np.ndarray, rates: np.ndarray) -> Bars:
    return Bars.from_arrays(
        bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume,
        symbol=bars.symbol, timeframe=bars.timeframe,
        funding_rate=align_funding(bars, stamps, rates),
    )


def file_symbol(symbol: str) -> str:
    """'BTC/USDT' or 'BTCUSDT' -> 'btcusdt', as the shared/data file names spell it."""
    return symbol.replace("/", "").replace("-", "").replace(":USDT", "").lower()


def csv_directory_loader(directory: str | Path) -> Callable[[DatasetSpec], Dataset]:
    """A loader reading `binance_{symbol}_{timeframe}.csv.gz` (and the perpetual's
    `binance_{symbol}_perp_funding_8h.csv.gz` when present) from `directory`."""
    root = Path(directory)

    def load(spec: DatasetSpec) -> Dataset:
        return Dataset.from_bars(
            [_read_bars(root, s, spec) for s in spec.symbols],
            key=spec.key, start_ms=spec.start_ms, end_ms=spec.end_ms,
        )

    return load


def _read_bars(root: Path, symbol: str, spec: DatasetSpec) -> Bars:
    name = file_symbol(symbol)
    candles = read_candle_file(root / f"binance_{name}_{spec.timeframe}.csv.gz")
    if candles.rejected:
        raise ValueError(f"{candles.path}: {candles.problems[0]}")
    first = max(int(np.searchsorted(candles.timestamps, spec.start_ms)) - spec.warmup_bars, 0)
    stop = int(np.searchsorted(candles.timestamps, spec.end_ms))
    part = slice(first, stop)
    bars = Bars.from_arrays(
        candles.timestamps[part], candles.open[part], candles.high[part], candles.low[part],
        candles.close[part], candles.volume[part], symbol=symbol, timeframe=spec.timeframe,
    )
    funding_path = root / f"binance_{name}_perp_funding_8h.csv.gz"
    if spec.funding and funding_path.exists():
        funding = read_funding_file(funding_path)
        if funding.rejected:
            raise ValueError(f"{funding.path}: {funding.problems[0]}")
        bars = with_funding(bars, funding.timestamps, funding.rates)
    return bars


DatasetLoader = Callable[[DatasetSpec], Dataset]


class DatasetCache:
    """Datasets by key, loaded once per process through an injected loader (LRU-bounded)."""

    def __init__(self, loader: DatasetLoader | None = None, capacity: int = 4):
        self._loader = loader
        self._capacity = capacity
        self._entries: OrderedDict[str, Dataset] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # how many times the loader ran (workers should load once)

    def set_loader(self, loader: DatasetLoader) -> None:
        self._loader = loader

    def put(self, dataset: Dataset) -> None:
        with self._lock:
            self._store(dataset)

    def get(self, key: str) -> Dataset:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            if self._loader is None:
                raise LookupError(f"dataset {key} is not cached and no loader is set")
            dataset = self._loader(DatasetSpec.from_key(key))
            self.loads += 1
            self._store(dataset)
            return dataset

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _store(self, dataset: Dataset) -> None:
        self._entries[dataset.key] = dataset
        self._entries.move_to_end(dataset.key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


DATASETS = DatasetCache()  # the process's cache: what `evaluate_batch` reads


def dataset_summary(dataset: Dataset) -> Mapping[str, Any]:
    """Symbols, timeframe and scored windows (first/last bar time) for display."""
    return {
        "key": dataset.key,
        "timeframe": dataset.timeframe,
        "instruments": [
            {
                "symbol": b.symbol,
                "bars": stop - start,
                "first_ms": int(b.timestamps[start]),
                "last_ms": int(b.timestamps[stop - 1]),
            }
            for b, (start, stop) in zip(dataset.bars, dataset.windows, strict=True)
        ],
    }
