"""How much an entry buys (or sells short).

Guarantees: a `Sizing` is immutable and validated. Three modes:
- `fraction`: commit this fraction (0, 1] of the account's equity on each entry
  (fees and slippage included in the amount committed, no leverage);
- `cash`: commit this fixed cash value on each entry;
- `units`: trade this fixed number of base-asset units on each entry.
`granularity` rounds every entry size down to a multiple of that unit step
(e.g. 1e-8 BTC), as an exchange's lot size would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

SizingMode = Literal["fraction", "cash", "units"]
SIZING_MODES: tuple[str, ...] = ("fraction", "cash", "units")


@dataclass(frozen=True)
class Sizing:
    """The position size rule of a backtest."""

    mode: SizingMode = "fraction"
    value: float = 1.0
    granularity: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in SIZING_MODES:
            raise ValueError(f"Sizing.mode must be one of {SIZING_MODES}, got {self.mode!r}")
        if not isinstance(self.value, (int, float)) or not math.isfinite(self.value):
            raise ValueError(f"Sizing.value must be a finite number, got {self.value!r}")
        if self.value <= 0:
            raise ValueError("Sizing.value must be positive")
        if self.mode == "fraction" and self.value > 1:
            raise ValueError("Sizing.value is a fraction of equity in (0, 1] (no leverage)")
        if self.granularity is not None and not (
            math.isfinite(self.granularity) and self.granularity > 0
        ):
            raise ValueError("Sizing.granularity must be a positive number or None")

    @classmethod
    def fraction(cls, value: float = 1.0, *, granularity: float | None = None) -> Sizing:
        return cls("fraction", value, granularity)

    @classmethod
    def cash(cls, value: float, *, granularity: float | None = None) -> Sizing:
        return cls("cash", value, granularity)

    @classmethod
    def units(cls, value: float, *, granularity: float | None = None) -> Sizing:
        return cls("units", value, granularity)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "value": self.value, "granularity": self.granularity}
