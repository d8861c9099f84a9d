"""Trading costs applied to every simulated fill.

Guarantees: a `Costs` is immutable and validated on construction (rates are
finite, non-negative and below 10%). Costs are never optional: the engines in
this package always charge them. Market orders (signal fills at the next bar's
open, stop exits, the forced close at the end of the data) pay the taker fee
and the slippage; `maker_fee` is the rate for resting limit orders (grids,
trailing orders in the event-driven engine).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MAX_RATE = 0.1


@dataclass(frozen=True)
class Costs:
    """Fee and slippage rates as fractions of traded value (0.0005 = 0.05%)."""

    maker_fee: float = 0.0002
    taker_fee: float = 0.0005
    slippage: float = 0.0005

    def __post_init__(self) -> None:
        for name in ("maker_fee", "taker_fee", "slippage"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"Costs.{name} must be a finite number, got {value!r}")
            if not 0.0 <= value < MAX_RATE:
                raise ValueError(f"Costs.{name} must be in [0, {MAX_RATE}), got {value!r}")

    @property
    def market_fee(self) -> float:
        """The fee rate of a market order (what the vectorised engine charges)."""
        return self.taker_fee

    def as_dict(self) -> dict[str, Any]:
        return {"maker_fee": self.maker_fee, "taker_fee": self.taker_fee, "slippage": self.slippage}
