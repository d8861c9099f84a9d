"""The strategy interface shared by backtests, evolution and live trading.

A strategy turns closed `Bars` and a parameter mapping into `Signals`. The
contract every implementation keeps:
- the value at bar t depends only on bars 0..t (closed bars, no lookahead);
- the engine that consumes the signals fills them on bar t+1's open;
- parameters are validated against the strategy's `ParamSpace` first.

Parameter spaces are typed (int / float / categorical, optional log scale) so
that forms, the API, the GA and the Bayesian optimiser all read one definition.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from trading.engine.market import Bars

ParamKind = Literal["int", "float", "categorical", "bool"]


class ParameterError(ValueError):
    """A parameter is unknown, missing, of the wrong type or out of range.

    `errors` maps a parameter name to a human-readable message, so that API
    layers can return field-level details.
    """

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class Param:
    """One tunable parameter."""

    name: str
    kind: ParamKind
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    log: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind in ("int", "float"):
            if self.low is None or self.high is None or self.low > self.high:
                raise ValueError(f"param {self.name}: numeric params need low <= high")
            if self.log and self.low <= 0:
                raise ValueError(f"param {self.name}: log scale needs low > 0")
        if self.kind == "categorical" and not self.choices:
            raise ValueError(f"param {self.name}: categorical params need choices")

    def validate(self, value: Any) -> Any:
        """Return `value` coerced to this parameter's type; raise ValueError if invalid."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError("must be true or false")
        if self.kind == "categorical":
            if value in self.choices:
                return value
            raise ValueError(f"must be one of {list(self.choices)}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"must be a number, got {type(value).__name__}")
        if self.kind == "int":
            if float(value) != int(value):
                raise ValueError("must be a whole number")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError("must be finite")
        assert self.low is not None and self.high is not None
        if not (self.low <= value <= self.high):
            raise ValueError(f"must be between {self.low:g} and {self.high:g}")
        return value

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "default": self.default,
            "low": self.low,
            "high": self.high,
            "choices": list(self.choices),
            "log": self.log,
            "description": self.description,
        }


@dataclass(frozen=True)
class ParamSpace:
    """An ordered set of `Param`s."""

    params: tuple[Param, ...] = ()

    def __iter__(self):
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def get(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate(self, values: Mapping[str, Any], *, fill_defaults: bool = True) -> dict[str, Any]:
        """Validated, type-coerced parameters; `ParameterError` lists every bad field."""
        errors: dict[str, str] = {}
        known = set(self.names())
        for name in values:
            if name not in known:
                errors[name] = f"unknown parameter (expected one of {sorted(known)})"
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name in values:
                try:
                    out[p.name] = p.validate(values[p.name])
                except ValueError as exc:
                    errors[p.name] = str(exc)
            elif fill_defaults:
                out[p.name] = p.default
            else:
                errors[p.name] = "missing"
        if errors:
            raise ParameterError(errors)
        return out

    def as_list(self) -> list[dict[str, Any]]:
        return [p.as_dict() for p in self.params]


@dataclass(frozen=True, eq=False)
class Signals:
    """Per-bar decisions, each array aligned with the bars it was computed from.

    `entries[t]` True means "enter long at the open of bar t+1". Stops are
    fractions of the entry price (0.05 = 5%); NaN or None means no stop.
    `size` is the fraction of equity to commit on an entry (NaN = engine default).
    """

    entries: np.ndarray
    exits: np.ndarray
    short_entries: np.ndarray | None = None
    short_exits: np.ndarray | None = None
    size: np.ndarray | None = None
    sl_stop: np.ndarray | float | None = None
    tp_stop: np.ndarray | float | None = None
    tsl_stop: np.ndarray | float | None = None
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.entries)
        for name in ("exits", "short_entries", "short_exits", "size"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != n:
                raise ValueError(f"Signals.{name} has {len(arr)} values, entries has {n}")


@runtime_checkable
class Strategy(Protocol):
    """Anything that maps bars + parameters to signals."""

    name: str
    description: str
    param_space: ParamSpace

    def signals(self, bars: Bars, params: Mapping[str, Any]) -> Signals: ...


def as_bool(values: Sequence[bool] | np.ndarray) -> np.ndarray:
    """A contiguous bool array with NaN-derived comparisons already False."""
    return np.ascontiguousarray(values, dtype=bool)
