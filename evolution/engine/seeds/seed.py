"""The base every strategy seed builds on.

A seed is a stateless `trading.engine.strategy.Strategy` with a `role` in a
genome: an entry signal, a filter, an exit block or a sizing block. What the
base guarantees for every seed:
- `signals()` validates the parameters against the seed's `ParamSpace` first
  (a `ParameterError` names every bad field) and returns `Signals` aligned
  with the bars, every boolean array False where an indicator is still warming
  up or its input is NaN;
- the description is the seed class's docstring, so the trading logic is
  written down once and shown by the registry, the dashboard and the API;
- a seed that can serve in more than one role lists them in `roles`
  (its primary `role` first), so a genome may e.g. use RSI as entry or guard.

Role conventions in the returned `Signals`:
- entry: `entries`/`exits`, plus `short_entries`/`short_exits` when shorting;
- filter: `extras["allow"]` (long entries permitted) and `extras["allow_short"]`;
- exit: `sl_stop` / `tp_stop` / `tsl_stop` as fractions of the entry price;
- sizing: `size`, the fraction of equity to commit (NaN = engine default).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from evolution.engine.seeds.indicator_memo import SeriesMemo
from trading.engine.market import Bars, periods_per_year
from trading.engine.strategy import Param, ParamSpace, Signals

SeedRole = Literal["entry", "filter", "exit", "sizing"]
SEED_ROLES: tuple[SeedRole, ...] = ("entry", "filter", "exit", "sizing")

ALLOW_SHORT = Param(
    "allow_short", "bool", False, description="Also open shorts on the mirror-image signal."
)


class Seed(ABC):
    """A named, typed, stateless signal generator (see the module docstring)."""

    name: str
    title: str  # the human name shown on the dashboard
    description: str  # the trading logic: the seed class's docstring
    role: SeedRole
    roles: tuple[SeedRole, ...]
    param_space: ParamSpace

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.description = inspect.cleandoc(cls.__doc__ or "")

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validated, type-coerced parameters with defaults filled in."""
        return self.param_space.validate(params)

    def signals(self, bars: Bars, params: Mapping[str, Any]) -> Signals:
        """Signals for `bars` under `params`; only bars 0..t decide the value at t."""
        return self.compute(bars, self.validate(params))

    @abstractmethod
    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        """Signals for already validated parameters."""

    def compute_many(
        self, bars: Bars, params: Sequence[dict[str, Any]], memo: SeriesMemo | None = None
    ) -> list[Signals]:
        """`compute` of each (already validated) parameter set, in order. Seeds whose
        parameter sets share work (an indicator at one period) override it with a faster
        path giving the same signals; those may take the indicator rows of earlier batches
        on the same bars from `memo` (`indicator_memo`)."""
        return [self.compute(bars, p) for p in params]

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description for the registry, dashboard and API."""
        return {
            "name": self.name,
            "title": self.title,
            "role": self.role,
            "roles": list(self.roles),
            "description": self.description,
            "params": self.param_space.as_list(),
            "defaults": self.param_space.defaults(),
        }


_NEVER = np.zeros(0, dtype=bool)
_NEVER.flags.writeable = False


def no_orders(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Entries and exits that never fire, for filter, exit and sizing seeds.

    Both are read-only views of one shared all-False array (nothing writes into a
    block's signals, and fresh memory is expensive to touch), grown when a longer
    one is asked for."""
    global _NEVER
    never = _NEVER
    if len(never) < n:
        never = np.zeros(max(n, 2 * len(never)), dtype=bool)
        never.flags.writeable = False
        _NEVER = never
    return never[:n], never[:n]


def event_signals(rows: Sequence[np.ndarray] | np.ndarray) -> Signals:
    """The signals of a compiled block's rows: (entries, exits), or (entries, exits,
    short entries, short exits) when the block trades short."""
    if len(rows) == 2:
        return Signals(entries=rows[0], exits=rows[1])
    return Signals(entries=rows[0], exits=rows[1], short_entries=rows[2], short_exits=rows[3])


def annualisation(bars: Bars) -> float:
    """Bars per year of `bars`' timeframe (8760 for 1h)."""
    return periods_per_year(bars.timeframe)
