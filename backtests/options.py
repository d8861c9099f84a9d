"""The options of a backtest session: what to trade besides the signals, and which analyses to run.

Guarantees: `options_validate` returns every option of the session's kind
with its default filled in and its type coerced, or the per-option errors
(keys are option names), never both. Options are stored on the session as
given back by it, so a re-run or a reload sees exactly the options the run
used. Event-driven sessions also take `EVENT_OPTION_SPECS` (which engine, its
risk profile, the strategy's vote weight); they trade long only and exit on
the engine's own decisions, so the short side and the session-level stops are
refused for them rather than silently ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WALK_FORWARD_MODES = ("rolling", "anchored")
EVENT_ENGINES = ("strategy", "agents")
RISK_PROFILES = ("conservative", "moderate", "aggressive")


@dataclass(frozen=True)
class OptionSpec:
    kind: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False
    help: str = ""


OPTION_SPECS: dict[str, OptionSpec] = {
    "allow_short": OptionSpec(bool, False, help="trade the short side of the signals"),
    "stop_loss": OptionSpec(float, None, 0.0001, 0.99, optional=True,
                            help="default stop-loss, fraction of the entry price"),
    "take_profit": OptionSpec(float, None, 0.0001, 10.0, optional=True,
                              help="default take-profit, fraction of the entry price"),
    "trailing_stop": OptionSpec(float, None, 0.0001, 0.99, optional=True,
                                help="default trailing stop, fraction of the entry price"),
    "monte_carlo_paths": OptionSpec(int, 10_000, 0, 100_000, help="0 skips Monte Carlo"),
    "seed": OptionSpec(int, 42, 0, 2**31 - 1,
                       help="seed of the Monte Carlo bootstrap and the lookahead cut points"),
    "walk_forward_windows": OptionSpec(int, 5, 0, 50, help="0 skips walk-forward"),
    "walk_forward_mode": OptionSpec(str, "rolling", choices=WALK_FORWARD_MODES),
    "walk_forward_train_test_ratio": OptionSpec(float, 3.0, 0.5, 10.0,
                                                help="train window length / test window length"),
    "optimizer_grid_points": OptionSpec(int, 4, 2, 10,
                                        help="grid values per numeric parameter when optimising "
                                             "(walk-forward and the 60/20/20 splits)"),
    "splits": OptionSpec(bool, True, help="run the 60/20/20 in-sample / out-of-sample / "
                                          "walk-forward validation"),
    "lookahead_points": OptionSpec(int, 20, 0, 500,
                                   help="truncation points of the lookahead check; 0 skips it"),
}
OPTION_DEFAULTS: dict[str, Any] = {name: spec.default for name, spec in OPTION_SPECS.items()}
EVENT_OPTION_SPECS: dict[str, OptionSpec] = {
    "engine": OptionSpec(
        str, "strategy", choices=EVENT_ENGINES,
        help="event-driven only: 'strategy' replays the strategy alone through the trading "
             "kernel (the same trades as the vectorised run); 'agents' runs every agent's "
             "consensus with trailing entries, planned exits and circuit breakers"),
    "risk_profile": OptionSpec(
        str, "moderate", choices=RISK_PROFILES,
        help="event-driven 'agents' engine: thresholds, position sizes, exits and breakers"),
    "strategy_weight": OptionSpec(
        float, 1.0, 0.0, 10.0,
        help="event-driven 'agents' engine: the strategy's vote weight beside each agent's "
             "1; 0 leaves the strategy out"),
}
SPECS_BY_KIND: dict[str, dict[str, OptionSpec]] = {
    "vectorized": OPTION_SPECS,
    "event_driven": {**OPTION_SPECS, **EVENT_OPTION_SPECS},
}
EVENT_DRIVEN_REFUSED = {
    "allow_short": "event-driven backtests trade long only",
    **{name: "event-driven backtests exit on the engine's decisions (the strategy's signals "
             "or the agents' exit plans); leave it empty"
       for name in ("stop_loss", "take_profit", "trailing_stop")},
}
# Options a kind refuses unless they keep their default (name -> why).
REFUSED_BY_KIND: dict[str, dict[str, str]] = {"vectorized": {},
                                              "event_driven": EVENT_DRIVEN_REFUSED}


def option_names(kind: str) -> tuple[str, ...]:
    """The options a session of `kind` takes (those of vectorised sessions if unknown)."""
    return tuple(SPECS_BY_KIND.get(kind, OPTION_SPECS))


def _coerce(spec: OptionSpec, value: Any) -> Any:
    if value is None and spec.optional:
        return None
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if spec.kind is str:
        if value not in spec.choices:
            raise ValueError(f"must be one of {list(spec.choices)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    if not math.isfinite(value):
        raise ValueError("must be finite")
    if spec.kind is int:
        if float(value) != int(value):
            raise ValueError("must be a whole number")
        value = int(value)
    else:
        value = float(value)
    assert spec.low is not None and spec.high is not None
    if not spec.low <= value <= spec.high:
        raise ValueError(f"must be between {spec.low:g} and {spec.high:g}")
    return value


def _unknown(name: str, specs: Mapping[str, OptionSpec]) -> str:
    if name in EVENT_OPTION_SPECS:
        return "only for event-driven backtests (kind 'event_driven')"
    return f"unknown option (expected one of {sorted(specs)})"


def options_validate(options: Mapping[str, Any] | None, *, kind: str = "vectorized",
                     ) -> tuple[dict[str, Any], dict[str, str]]:
    """(options of a `kind` session with defaults, {}) or ({}, {option: error})."""
    specs = SPECS_BY_KIND.get(kind, OPTION_SPECS)
    given = dict(options or {})
    errors = {name: _unknown(name, specs) for name in given if name not in specs}
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        try:
            out[name] = _coerce(spec, given[name]) if name in given else spec.default
        except ValueError as exc:
            errors[name] = str(exc)
    if out.get("stop_loss") is not None and out.get("trailing_stop") is not None:
        errors["trailing_stop"] = "give a stop-loss or a trailing stop, not both"
    for name, why in REFUSED_BY_KIND.get(kind, {}).items():
        if name in out and out[name] not in (None, False):
            errors[name] = why
    return ({}, errors) if errors else (out, {})
