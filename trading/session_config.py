"""How a session's stored settings become the kernel's `KernelConfig`.

Guarantees:
- `parameter_values_errors(values)` checks a parameter set's values section by
  section (risk overrides, agent parameters, weights, kernel options, paper
  costs) and names every bad field as "section.field"; an empty result means
  `kernel_config` will accept them.
- `resolved_config(...)` is computed once, when a session first starts: the
  risk profile derived from its tolerance, capital and the market statistics
  of the bars before its start, with the parameter set's overrides. It is
  stored as JSON on the session, so every restore of the kernel runs with the
  same profile (a re-derivation on newer data could silently change a running
  session).
- `kernel_config(...)` rebuilds the same frozen `KernelConfig` from that JSON,
  the session's agent weights/enabled agents and the operator's overrides.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from trading.engine.agents.registry import STANDALONE_AGENTS, create_agent, default_agents
from trading.engine.execution import PaperCosts
from trading.engine.instruments import Instrument as EngineInstrument
from trading.engine.kernel import (
    DecidedExitsOnly,
    GridPolicy,
    ImmediateExecution,
    KernelConfig,
    PlannedExits,
    TrailingExecution,
)
from trading.engine.market import Bars
from trading.engine.risk_profiles import (
    MarketStats,
    RiskProfile,
    TakeProfitTier,
    TrailWidths,
)
from trading.engine.strategy import ParameterError

SECTIONS = ("risk", "agents", "weights", "kernel", "costs")
AGENT_NAMES: tuple[str, ...] = STANDALONE_AGENTS
REFERENCE_STATS = MarketStats(price=100.0, daily_volatility=0.03, avg_swing=0.04,
                              avg_bar_volume=1_000.0)
MIN_HISTORY_BARS = 50

# Kernel option -> (kind, minimum, maximum); choices are listed separately.
KERNEL_NUMBERS: dict[str, tuple[type, float, float]] = {
    "entry_protection": (float, 0.0, 0.0999),
    "entry_ttl_bars": (int, 1, 1_000),
    "window_bars": (int, 50, 2_000),
    "agent_budget_s": (float, 0.001, 5.0),
    "resume_after_good": (int, 1, 1_000),
}
GRID_OPTION = "grid"  # a GridPolicy's fields, e.g. {"levels_per_side": 5, "capital_fraction": 0.5}
KERNEL_CHOICES: dict[str, tuple[str, ...]] = {
    "execution": ("trailing", "immediate"),
    "exits": ("planned", "decided"),
}
KERNEL_DEFAULTS: dict[str, Any] = {
    "entry_protection": 0.002, "entry_ttl_bars": 1, "window_bars": 500,
    "agent_budget_s": 0.05, "resume_after_good": 3, "execution": "trailing", "exits": "planned",
}
COST_FIELDS = tuple(f.name for f in dataclasses.fields(PaperCosts))


# -- validation ------------------------------------------------------------------------------

def parameter_values_errors(values: Any) -> dict[str, str]:
    """Every problem of a parameter set's `values`, keyed "section.field"."""
    if not isinstance(values, Mapping):
        return {"values": "must be an object with sections " + ", ".join(SECTIONS)}
    errors = {k: "unknown section" for k in values if k not in SECTIONS}
    checks = {"risk": risk_overrides_errors, "agents": agent_params_errors,
              "weights": weights_errors, "kernel": kernel_options_errors,
              "costs": costs_errors}
    for section, check in checks.items():
        if section not in values:
            continue
        content = values[section]
        if not isinstance(content, Mapping):
            errors[section] = "must be an object"
            continue
        errors.update({f"{section}.{k}": v for k, v in check(content).items()})
    return errors


def risk_overrides_errors(overrides: Mapping[str, Any]) -> dict[str, str]:
    reference = RiskProfile.derive("moderate", 10_000.0, REFERENCE_STATS)
    forbidden = {k: "set by the session" for k in overrides if k in ("tolerance", "capital", "symbols")}
    try:
        reference.with_overrides({k: v for k, v in overrides.items() if k not in forbidden})
    except ParameterError as exc:
        return forbidden | exc.errors
    except (TypeError, ValueError) as exc:
        return forbidden | {"risk": str(exc)}
    return forbidden


def agent_params_errors(params: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, values in params.items():
        if name not in AGENT_NAMES:
            errors[name] = f"unknown agent; known: {', '.join(AGENT_NAMES)}"
        elif not isinstance(values, Mapping):
            errors[name] = "must be an object of parameters"
        else:
            try:
                create_agent(name, **values)
            except ParameterError as exc:
                errors.update({f"{name}.{k}": v for k, v in exc.errors.items()})
            except (TypeError, ValueError) as exc:
                errors[name] = str(exc)
    return errors


def weights_errors(weights: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, weight in weights.items():
        if name not in AGENT_NAMES:
            errors[name] = f"unknown agent; known: {', '.join(AGENT_NAMES)}"
        elif not _is_number(weight) or not 0.0 <= float(weight) <= 100.0:
            errors[name] = "must be a number between 0 and 100"
    if weights and not errors and sum(float(w) for w in weights.values()) <= 0:
        errors["weights"] = "at least one weight must be positive"
    return errors


def kernel_options_errors(options: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, value in options.items():
        if name == GRID_OPTION:
            errors.update({f"grid.{k}": v for k, v in grid_errors(value).items()})
        elif name in KERNEL_CHOICES:
            if value not in KERNEL_CHOICES[name]:
                errors[name] = f"must be one of {', '.join(KERNEL_CHOICES[name])}"
        elif name in KERNEL_NUMBERS:
            kind, low, high = KERNEL_NUMBERS[name]
            whole = kind is not int or (_is_number(value) and float(value) == int(value))
            if not _is_number(value) or not whole or not low <= float(value) <= high:
                errors[name] = f"must be {'a whole' if kind is int else 'a'} number in [{low}, {high}]"
        else:
            errors[name] = "unknown kernel option"
    return errors


def grid_errors(options: Any) -> dict[str, str]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        return {"grid": "must be an object of grid settings (or null for no grid)"}
    names = {f.name for f in dataclasses.fields(GridPolicy)}
    unknown = {k: "unknown grid setting" for k in options if k not in names}
    if unknown:
        return unknown
    try:
        grid_policy(options)
    except (TypeError, ValueError) as exc:
        return {"grid": str(exc)}
    return {}


def grid_policy(options: Mapping[str, Any] | None) -> GridPolicy | None:
    """The session's grid from its kernel options (None: the agents trade every symbol)."""
    if not options:
        return None
    values = dict(options)
    if values.get("symbols") is not None:
        values["symbols"] = tuple(values["symbols"])
    return GridPolicy(**values)


def costs_errors(costs: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, value in costs.items():
        if name not in COST_FIELDS:
            errors[name] = "unknown cost field"
            continue
        try:
            paper_costs({"costs": {name: value}})
        except (InvalidOperation, TypeError, ValueError) as exc:
            errors[name] = f"must be a decimal number: {exc}"
    if not errors:
        try:
            paper_costs({"costs": costs})
        except ValueError as exc:
            errors["costs"] = str(exc)
    return errors


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(float(value)))


# -- resolving -------------------------------------------------------------------------------

def instrument_json(symbol: str, base: str, quote: str, tick: Decimal, lot: Decimal,
                    min_notional: Decimal) -> dict[str, str]:
    """An instrument's engine rules; unknown (zero) increments fall back to the engine's."""
    default = EngineInstrument.from_symbol(symbol) if "/" in symbol else None
    return {
        "symbol": symbol, "base": base, "quote": quote,
        "tick_size": str(tick if tick > 0 else (default.tick_size if default else "0.01")),
        "lot_size": str(lot if lot > 0 else (default.lot_size if default else "0.00001")),
        "min_notional": str(min_notional if min_notional > 0 else 0),
    }


def resolved_config(
    *,
    tolerance: str,
    capital: float,
    timeframe: str,
    instruments: Sequence[Mapping[str, str]],
    history: Bars,
    values: Mapping[str, Any],
    parameter_set: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The settings a session starts with (stored on it; see the module docstring)."""
    if len(history) < MIN_HISTORY_BARS:
        raise ParameterError({"instruments": f"need at least {MIN_HISTORY_BARS} stored "
                              f"{timeframe} candles before the start, found {len(history)}"})
    symbols = [i["symbol"] for i in instruments]
    min_notional = float(Decimal(instruments[0]["min_notional"]))
    stats = MarketStats.from_bars(history, min_notional=min_notional)
    profile = RiskProfile.derive(tolerance, capital, stats, values.get("risk") or {},
                                 symbols=symbols)
    return {
        "symbols": symbols,
        "timeframe": timeframe,
        "capital": capital,
        "quote": instruments[0]["quote"],
        "tolerance": tolerance,
        "profile": profile.as_dict(),
        "instruments": [dict(i) for i in instruments],
        "agents": dict(values.get("agents") or {}),
        "parameter_weights": dict(values.get("weights") or {}),
        "kernel": KERNEL_DEFAULTS | dict(values.get("kernel") or {}),
        "costs": {k: str(v) for k, v in (values.get("costs") or {}).items()},
        "parameter_set": dict(parameter_set) if parameter_set else None,
        "derived_from_bars": {"first_ms": int(history.timestamps[0]),
                              "last_ms": int(history.timestamps[-1]), "count": len(history)},
    }


def profile_from_json(data: Mapping[str, Any]) -> RiskProfile:
    fields_ = {f.name for f in dataclasses.fields(RiskProfile)}
    values = {k: v for k, v in data.items() if k in fields_}
    values["symbols"] = tuple(values.get("symbols", ()))
    values["take_profits"] = tuple(TakeProfitTier(**t) for t in values.get("take_profits", ()))
    values["trail_widths"] = TrailWidths(**values["trail_widths"])
    return RiskProfile(**values)


def session_profile(config: Mapping[str, Any], overrides: Mapping[str, Any]) -> RiskProfile:
    """The stored profile with the operator's overrides applied."""
    profile = profile_from_json(config["profile"])
    return profile.with_overrides(overrides) if overrides else profile


def paper_costs(config: Mapping[str, Any]) -> PaperCosts:
    costs = config.get("costs") or {}
    values: dict[str, Any] = {}
    for name, raw in costs.items():
        values[name] = None if raw is None else Decimal(str(raw))
    return PaperCosts(**values)


def base_weights(config: Mapping[str, Any], session_weights: Mapping[str, float]) -> dict[str, float]:
    return {**config.get("parameter_weights", {}), **session_weights}


def kernel_config(
    *,
    session_key: str,
    config: Mapping[str, Any],
    weights: Mapping[str, float],
    enabled: Sequence[str],
    overrides: Mapping[str, Any],
) -> KernelConfig:
    kernel = KERNEL_DEFAULTS | dict(config.get("kernel") or {})
    instruments = tuple(
        EngineInstrument(i["symbol"], i["base"], i["quote"], Decimal(i["tick_size"]),
                         Decimal(i["lot_size"]), Decimal(i["min_notional"]))
        for i in config["instruments"]
    )
    return KernelConfig(
        session_id=session_key,
        symbols=tuple(config["symbols"]),
        timeframe=config["timeframe"],
        capital=float(config["capital"]),
        profile=session_profile(config, overrides),
        agents=tuple(default_agents(config.get("agents") or {})),
        weights=base_weights(config, weights),
        enabled=tuple(enabled) if enabled else None,
        execution=TrailingExecution() if kernel["execution"] == "trailing" else ImmediateExecution(),
        exits=PlannedExits() if kernel["exits"] == "planned" else DecidedExitsOnly(),
        resume_after_good=int(kernel["resume_after_good"]),
        window_bars=int(kernel["window_bars"]),
        agent_budget_s=float(kernel["agent_budget_s"]),
        entry_protection=float(kernel["entry_protection"]),
        entry_ttl_bars=int(kernel["entry_ttl_bars"]),
        fee_rate=float(paper_costs(config).taker_fee),
        quote=config["quote"],
        instruments=instruments,
        grid=grid_policy(kernel.get(GRID_OPTION)),
    )
