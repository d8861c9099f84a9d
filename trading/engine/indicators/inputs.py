"""Input checking shared by every batch indicator.

Guarantees: every series handed to a kernel is a contiguous float64 numpy array;
periods are integers within range; multi-series inputs have equal lengths.
Violations raise `ValueError` (or `TypeError` for non-integer periods) before
any computation, so a bad genome fails fast instead of producing silent NaNs.

Leading NaNs are allowed (the output of another indicator is a valid input):
`first_valid_index` finds where the data starts, and batch functions compute
on the tail from there, exactly as TA-Lib's Python wrapper does.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

import numpy as np
from numba import njit


def as_series(values: object, name: str = "x") -> np.ndarray:
    """`values` as a contiguous one-dimensional float64 array (no copy when already one)."""
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def as_same_length(*named: tuple[str, object]) -> list[np.ndarray]:
    """Several series as float64 arrays, checked to share one length."""
    arrays = [as_series(values, name) for name, values in named]
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        detail = ", ".join(f"{name}={len(a)}" for (name, _), a in zip(named, arrays, strict=True))
        raise ValueError(f"input series differ in length: {detail}")
    return arrays


def check_period(value: object, name: str = "n", minimum: int = 1) -> int:
    """`value` as an int >= `minimum` (bools and floats are refused)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        period = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if period < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {period}")
    return int(period)


def check_non_negative_float(value: float, name: str) -> float:
    """`value` as a finite float >= 0 (band widths, annualisation factors)."""
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def first_valid_index(*arrays: np.ndarray) -> int:
    """First bar from which every array has data: the longest leading-NaN run among them.

    Only the leading run is skipped; a NaN later in a series propagates through
    recursive indicators exactly as it does in TA-Lib.
    """
    return max((_leading_nan_count(arr) for arr in arrays), default=0)


@njit(cache=True)
def _leading_nan_count(x: np.ndarray) -> int:
    for i in range(len(x)):
        if not np.isnan(x[i]):
            return i
    return len(x)


def nan_array(length: int) -> np.ndarray:
    """A float64 array of `length` NaNs."""
    return np.full(length, np.nan)


def run_on_valid_tail(
    kernel: Callable[..., None],
    inputs: Sequence[np.ndarray],
    params: tuple[object, ...] = (),
    outputs: int = 1,
) -> list[np.ndarray]:
    """Call `kernel(*inputs, *params, *outs)` on the bars after the leading NaN run.

    Kernels write every element of the output slices they are given; the
    leading-NaN prefix is filled here, so `sma(sma(x, 5), 5)` works as in TA-Lib.
    """
    size = len(inputs[0])
    start = first_valid_index(*inputs)
    outs = [np.empty(size) for _ in range(outputs)]
    for out in outs:
        out[:start] = np.nan
    if start < size:
        kernel(*(arr[start:] for arr in inputs), *params, *(out[start:] for out in outs))
    return outs
