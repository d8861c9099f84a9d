"""Decimal conversion for everything that books money.

Guarantees: `to_decimal` turns a float into the Decimal of its shortest repr
(0.1 -> Decimal("0.1"), never the binary expansion; numpy floats too), and refuses NaN and
infinities with a ValueError so a bad price can never enter the books.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)

Number = Decimal | float | int | str


def to_decimal(value: Number) -> Decimal:
    """`value` as a finite Decimal; floats go through their shortest repr."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"amount must be finite, got {value!r}")
        return Decimal(repr(float(value)))  # float(): numpy scalars repr as np.float64(..)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    elif isinstance(value, int):
        result = Decimal(value)
    else:
        result = Decimal(str(value))
    if not result.is_finite():
        raise ValueError(f"amount must be finite, got {value!r}")
    return result


def round_down(value: Decimal, step: Decimal) -> Decimal:
    """`value` floored to a multiple of `step` (lot sizes: never buy more than asked)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def round_up(value: Decimal, step: Decimal) -> Decimal:
    """`value` ceiled to a multiple of `step`."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step
