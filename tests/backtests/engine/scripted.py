"""Hand-made bars and a strategy that replays given signals, for exact engine tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trading.engine.market import Bars
from trading.engine.strategy import ParamSpace, Signals

HOUR_MS = 3_600_000
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def bars_from_prices(
    open_: Sequence[float],
    close: Sequence[float] | None = None,
    *,
    high: Sequence[float] | None = None,
    low: Sequence[float] | None = None,
    timeframe: str = "1h",
    step_ms: int = HOUR_MS,
) -> Bars:
    """Bars with the given opens (closes default to the next open, the last to its open)."""
    o = np.asarray(open_, dtype=np.float64)
    c = np.asarray(close, dtype=np.float64) if close is not None else np.append(o[1:], o[-1])
    h = np.asarray(high, dtype=np.float64) if high is not None else np.maximum(o, c)
    lo = np.asarray(low, dtype=np.float64) if low is not None else np.minimum(o, c)
    ts = START_MS + step_ms * np.arange(len(o))
    return Bars.from_arrays(ts, o, h, lo, c, np.ones(len(o)), symbol="TEST", timeframe=timeframe)


def flags(n: int, *bars: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[list(bars)] = True
    return out


class ScriptedStrategy:
    """Returns the same prepared `Signals` (cut to the bars it is given)."""

    name = "scripted"
    description = "replays fixed signals"
    param_space = ParamSpace(())

    def __init__(self, **fields: Any):
        self._fields = fields

    def signals(self, bars: Bars, params: Mapping[str, Any]) -> Signals:
        n = len(bars)
        values = {k: (v[:n] if isinstance(v, np.ndarray) else v) for k, v in self._fields.items()}
        return Signals(**values)
