"""Curves of a run kept small enough to store and draw, without losing their extremes.

Guarantees: `curve_indices` returns sorted, unique indices into a series of
length n, at most about `max_points` of them, always including the first and
last points and, per bucket, the highest equity and the deepest drawdown, so a
stored curve shows the same peaks and the same maximum drawdown as the full
one. Below `max_points` every index is kept. Pure numpy, no Django.
"""

from __future__ import annotations

import numpy as np


def curve_indices(equity: np.ndarray, drawdown: np.ndarray, max_points: int) -> np.ndarray:
    """Indices to keep of curves of length len(equity)."""
    n = len(equity)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 3)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep = [np.array([0, n - 1])]
    starts, stops = edges[:-1], edges[1:]
    nonempty = stops > starts
    starts, stops = starts[nonempty], stops[nonempty]
    keep.append(starts)
    keep.append(np.array([s + int(np.argmax(equity[s:e])) for s, e in zip(starts, stops,
                                                                         strict=True)]))
    keep.append(np.array([s + int(np.argmin(drawdown[s:e])) for s, e in zip(starts, stops,
                                                                          strict=True)]))
    return np.unique(np.concatenate(keep))


def thinned(series: dict[str, np.ndarray], indices: np.ndarray) -> dict[str, np.ndarray]:
    return {name: np.asarray(values)[indices] for name, values in series.items()}
