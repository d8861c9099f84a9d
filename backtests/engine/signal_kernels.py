"""Compiled kernels that turn indicator matrices into signal matrices.

Guarantees: one kernel serves both the single-parameter path and the batch
path, so a batch column is bit-for-bit what the single run computes. A NaN
(indicator warm-up) never produces a signal, and a crossing needs two
consecutive valid bars.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def crossover_columns(
    lines: np.ndarray,
    fast_index: np.ndarray,
    slow_index: np.ndarray,
    up: np.ndarray,
    down: np.ndarray,
) -> None:
    """up[t, j] = line fast_index[j] crosses above line slow_index[j] at bar t; down likewise.

    "Crosses above" means fast > slow at t and not (fast > slow) at t-1, both
    bars valid. `lines` is (n, m) C-ordered; `up`/`down` are (n, k) outputs.
    """
    n = lines.shape[0]
    k = fast_index.shape[0]
    prev_valid = np.zeros(k, dtype=np.bool_)
    prev_above = np.zeros(k, dtype=np.bool_)
    for t in range(n):
        for j in range(k):
            a = lines[t, fast_index[j]]
            b = lines[t, slow_index[j]]
            valid = not (np.isnan(a) or np.isnan(b))
            above = a > b
            both = valid and prev_valid[j]
            up[t, j] = both and above and not prev_above[j]
            down[t, j] = both and prev_above[j] and not above
            prev_valid[j] = valid
            prev_above[j] = above


@numba.njit(cache=True)
def threshold_columns(
    lines: np.ndarray,
    line_index: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    below: np.ndarray,
    above: np.ndarray,
) -> None:
    """below[t, j] = line line_index[j] < lower[j] at t; above[t, j] = line > upper[j] (NaN: neither)."""
    n = lines.shape[0]
    k = line_index.shape[0]
    for t in range(n):
        for j in range(k):
            v = lines[t, line_index[j]]
            below[t, j] = v < lower[j]
            above[t, j] = v > upper[j]


def distinct_index(values: list[int]) -> tuple[list[int], np.ndarray]:
    """(sorted distinct values, index of each input value in that list)."""
    distinct = sorted(set(values))
    position = {v: i for i, v in enumerate(distinct)}
    return distinct, np.array([position[v] for v in values], dtype=np.int64)
