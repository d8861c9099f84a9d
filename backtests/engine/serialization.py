"""Make results storable as JSON.

Guarantees: `json_safe` returns only dict / list / str / int / float / bool /
None, with every NaN or infinity replaced by None, numpy scalars and arrays
converted to Python values and lists; tuples become lists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def json_float(value: Any) -> float | None:
    """A finite float, or None for NaN / infinity / None."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def json_safe(value: Any) -> Any:
    """`value` converted recursively into JSON-serialisable Python objects."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return json_float(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iub":
            return value.tolist()
        if value.dtype.kind == "f":
            finite = np.isfinite(value)
            if finite.all():
                return value.tolist()
            boxed = value.astype(object)
            boxed[~finite] = None
            return boxed.tolist()
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    raise TypeError(f"cannot make {type(value).__name__} JSON-safe")
