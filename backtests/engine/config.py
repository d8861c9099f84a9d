"""The settings of one backtest, shared by single, batch and multi-instrument runs.

Guarantees: a `BacktestConfig` is immutable and validated; `as_dict` /
`from_dict` round-trip it through JSON-compatible dicts so sessions can store
exactly what they ran with. Defaults are the honest ones: costs on, long-only
spot, positions still open at the end are closed at the final bar's open so
every trade is realised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backtests.engine.costs import Costs
from backtests.engine.sizing import Sizing
from trading.engine.market import periods_per_year, timeframe_ms


@dataclass(frozen=True)
class BacktestConfig:
    """Capital, costs, sizing and behaviour of a backtest.

    `timeframe` (e.g. "1h") overrides the bars' own timeframe for annualisation.
    `sl_stop`, `tp_stop`, `tsl_stop` are default stops (fractions of the entry
    price) used where the strategy's signals give none.
    """

    initial_cash: float = 10_000.0
    costs: Costs = field(default_factory=Costs)
    sizing: Sizing = field(default_factory=Sizing)
    timeframe: str | None = None
    allow_short: bool = False
    close_at_end: bool = True
    sl_stop: float | None = None
    tp_stop: float | None = None
    tsl_stop: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.initial_cash) and self.initial_cash > 0):
            raise ValueError("BacktestConfig.initial_cash must be a positive number")
        if self.timeframe is not None:
            timeframe_ms(self.timeframe)
        for name in ("sl_stop", "tp_stop", "tsl_stop"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"BacktestConfig.{name} must be a positive fraction or None")
        if self.sl_stop is not None and self.tsl_stop is not None:
            raise ValueError("BacktestConfig: give sl_stop or tsl_stop, not both (one stop-loss slot)")

    def timeframe_for(self, bars_timeframe: str) -> str:
        return self.timeframe or bars_timeframe

    def periods_per_year(self, bars_timeframe: str) -> float:
        return periods_per_year(self.timeframe_for(bars_timeframe))

    def as_dict(self) -> dict[str, Any]:
        return {
            "initial_cash": self.initial_cash,
            "costs": self.costs.as_dict(),
            "sizing": self.sizing.as_dict(),
            "timeframe": self.timeframe,
            "allow_short": self.allow_short,
            "close_at_end": self.close_at_end,
            "sl_stop": self.sl_stop,
            "tp_stop": self.tp_stop,
            "tsl_stop": self.tsl_stop,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BacktestConfig:
        values = dict(data)
        if "costs" in values:
            values["costs"] = Costs(**values["costs"])
        if "sizing" in values:
            values["sizing"] = Sizing(**values["sizing"])
        return cls(**values)
