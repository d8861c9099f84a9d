"""Signals of many parameter sets at once, as (bars x columns) matrices.

Guarantees: column j of a `BatchSignals` equals what the strategy's
`signals(bars, params[j])` returns (strategies with a fast batch path are
tested for this parity). Arrays are C-ordered, aligned with the bars the
signals were computed from (a True at row t means "act at bar t+1's open").

A batch is produced lazily, a slice of columns at a time, through a
`BatchSignalSource`, so a population of thousands of parameter sets over a
million bars never has to be held in memory at once; a source may share work
between columns (e.g. each distinct moving average computed once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from trading.engine.market import Bars
from trading.engine.strategy import Signals, Strategy

STOP_FIELDS = ("sl_stop", "tp_stop", "tsl_stop")


@dataclass(frozen=True, eq=False)
class BatchSignals:
    """Signals of k parameter sets over n bars: bool (n, k); size/stops (n, k) or (1, k)."""

    entries: np.ndarray
    exits: np.ndarray
    short_entries: np.ndarray | None = None
    short_exits: np.ndarray | None = None
    size: np.ndarray | None = None
    sl_stop: np.ndarray | None = None
    tp_stop: np.ndarray | None = None
    tsl_stop: np.ndarray | None = None

    def __post_init__(self) -> None:
        shape = self.entries.shape
        if self.entries.ndim != 2:
            raise ValueError("BatchSignals.entries must be 2-D (bars, columns)")
        for name in ("exits", "short_entries", "short_exits"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != shape:
                raise ValueError(f"BatchSignals.{name} has shape {arr.shape}, expected {shape}")
        for name in ("size", *STOP_FIELDS):
            arr = getattr(self, name)
            if arr is not None and (arr.ndim != 2 or arr.shape[1] != shape[1]
                                    or arr.shape[0] not in (1, shape[0])):
                raise ValueError(f"BatchSignals.{name} must be (1, k) or (n, k), got {arr.shape}")

    @property
    def n_bars(self) -> int:
        return int(self.entries.shape[0])

    @property
    def n_columns(self) -> int:
        return int(self.entries.shape[1])

    @property
    def has_shorts(self) -> bool:
        return self.short_entries is not None or self.short_exits is not None

    @classmethod
    def from_signals(cls, columns: Sequence[Signals]) -> BatchSignals:
        """Stack per-parameter `Signals` into one batch (columns in the given order)."""
        if not columns:
            raise ValueError("BatchSignals.from_signals needs at least one Signals")
        n = len(columns[0].entries)

        def stack_bool(name: str) -> np.ndarray | None:
            arrays = [getattr(s, name) for s in columns]
            if all(a is None for a in arrays):
                return None
            out = np.zeros((n, len(columns)), dtype=bool)
            for j, a in enumerate(arrays):
                if a is not None:
                    out[:, j] = a
            return out

        def stack_float(name: str) -> np.ndarray | None:
            values = [getattr(s, name) for s in columns]
            if all(v is None for v in values):
                return None
            if all(v is None or np.ndim(v) == 0 for v in values):
                return np.array([[np.nan if v is None else float(v) for v in values]])
            out = np.full((n, len(columns)), np.nan)
            for j, v in enumerate(values):
                if v is not None:
                    out[:, j] = v
            return out

        return cls(
            entries=stack_bool("entries"),  # type: ignore[arg-type]
            exits=stack_bool("exits"),  # type: ignore[arg-type]
            short_entries=stack_bool("short_entries"),
            short_exits=stack_bool("short_exits"),
            size=stack_float("size"),
            sl_stop=stack_float("sl_stop"),
            tp_stop=stack_float("tp_stop"),
            tsl_stop=stack_float("tsl_stop"),
        )


@runtime_checkable
class BatchSignalSource(Protocol):
    """Produces the batch's columns [start, stop) on demand."""

    @property
    def n_columns(self) -> int: ...

    def columns(self, start: int, stop: int) -> BatchSignals: ...


class PerParamSignalSource:
    """The generic source: calls `strategy.signals` once per parameter set."""

    def __init__(self, strategy: Strategy, bars: Bars, params: Sequence[Mapping[str, Any]]):
        self._strategy = strategy
        self._bars = bars
        self._params = list(params)

    @property
    def n_columns(self) -> int:
        return len(self._params)

    def columns(self, start: int, stop: int) -> BatchSignals:
        return BatchSignals.from_signals(
            [self._strategy.signals(self._bars, p) for p in self._params[start:stop]]
        )


def batch_signal_source(
    strategy: Strategy, bars: Bars, params: Sequence[Mapping[str, Any]]
) -> BatchSignalSource:
    """The strategy's own batch path when it has one (`batch_signals`), else per-parameter calls."""
    fast_path = getattr(strategy, "batch_signals", None)
    if callable(fast_path):
        source = fast_path(bars, params)
        if not isinstance(source, BatchSignalSource):
            raise TypeError(f"{strategy.name}.batch_signals must return a BatchSignalSource")
        return source
    return PerParamSignalSource(strategy, bars, params)
