"""What every agent sees: one frozen snapshot of the market at a closed bar.

Guarantees: `bars` holds closed bars only (the caller cuts the forming bar off),
`price` is finite and positive, peers and the higher timeframe are closed bars
too, and optional sentiment inputs (funding rates, a fear/greed series) are
float64 arrays ordered oldest first. The snapshot never changes after it is
built; `memo` lets several agents share an indicator computed on it once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np

from trading.engine.market import Bars

T = TypeVar("T")


def _optional_series(values: np.ndarray | None, name: str) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"MarketSnapshot.{name} must be one-dimensional")
    return arr


@dataclass(frozen=True, eq=False)
class MarketSnapshot:
    """The closed-bar window(s) and side inputs agents analyse at one moment.

    - `bars`: the primary symbol's closed bars (the analysis window, oldest first).
    - `price`: the latest traded price; defaults to the last close.
    - `higher_timeframe`: closed bars of the same symbol on a longer timeframe.
    - `peers`: other symbols' closed bars, for cross-asset agents.
    - `funding_rates`: recent perpetual funding rates (fraction per period).
    - `fear_greed`: a 0..100 fear/greed index series.
    - `now_ms`: the injected clock's time when the snapshot was taken.
    """

    bars: Bars
    price: float | None = None
    higher_timeframe: Bars | None = None
    peers: Mapping[str, Bars] = field(default_factory=dict)
    funding_rates: np.ndarray | None = None
    fear_greed: np.ndarray | None = None
    now_ms: int | None = None
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.price is not None and not (math.isfinite(self.price) and self.price > 0):
            raise ValueError(f"MarketSnapshot.price must be finite and > 0, got {self.price!r}")
        object.__setattr__(self, "peers", MappingProxyType(dict(self.peers)))
        object.__setattr__(
            self, "funding_rates", _optional_series(self.funding_rates, "funding_rates")
        )
        object.__setattr__(self, "fear_greed", _optional_series(self.fear_greed, "fear_greed"))

    @property
    def symbol(self) -> str:
        return self.bars.symbol

    @property
    def timeframe(self) -> str:
        return self.bars.timeframe

    @property
    def timestamp_ms(self) -> int:
        """Open time of the last closed bar (0 for an empty window)."""
        return int(self.bars.timestamps[-1]) if len(self.bars) else 0

    @property
    def last_price(self) -> float:
        """`price` when given, else the last close (NaN for an empty window)."""
        if self.price is not None:
            return float(self.price)
        return float(self.bars.close[-1]) if len(self.bars) else math.nan

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """`compute()` once per snapshot and key; later calls return the stored result.

        Agents use it for indicators others need too (same key = same inputs),
        so running nine agents does not compute the same ATR nine times.
        """
        try:
            return self._memo[key]  # type: ignore[no-any-return]
        except KeyError:
            value = compute()
            self._memo[key] = value
            return value
