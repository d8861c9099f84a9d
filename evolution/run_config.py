"""Evolution run inputs: validated, then turned into the engine's configuration.

Guarantees:
- `run_inputs_validate` returns cleaned `RunInputs` or raises ONE Django
  `ValidationError` whose `message_dict` names every bad field ("seeds",
  "instrument_ids", "timeframe", "start", "end", "split", "population",
  "generations", "batch_size", "objectives", "costs.<name>", "random_seed",
  "warmup_bars", "validate_top", "hall_of_fame_size"); it only reads the database;
- `engine_settings(inputs)` builds the engine's `GAConfig`, `EvaluationConfig` and
  `SplitWindows` deterministically from the cleaned inputs; the run stores their
  JSON, and every process (web, Celery workers, the serial runner) rebuilds the
  exact same objects from it (`RunEngine.of(run)`);
- the GA only ever sees the in-sample span; out-of-sample and walk-forward spans
  are used by validation when the run completes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from backtests.engine.config import BacktestConfig
from backtests.engine.costs import Costs
from evolution.engine.datasets import DatasetSpec
from evolution.engine.evaluation import EvaluationConfig
from evolution.engine.ga import GAConfig
from evolution.engine.objectives import OBJECTIVE_NAMES
from evolution.engine.operators import GenomeSpace
from evolution.engine.seeds import SEEDS, get_seed
from evolution.engine.selection import check_objectives
from evolution.engine.validation import SplitWindows
from evolution.market_data import candle_counts, dataset_spec, instruments_by_ids
from trading.engine.market import TIMEFRAME_MS
from trading.models import Instrument

DEFAULT_SPLIT = (0.6, 0.2, 0.2)
DEFAULT_BATCH_SIZE = 5  # small batches balance slow (ML) genomes across workers
MIN_IN_SAMPLE_BARS = 200
MIN_STAGE_BARS = 20
MAX_INSTRUMENTS = 10
LIMITS: dict[str, tuple[int, int]] = {
    "population": (4, 1_000),
    "generations": (1, 500),
    "batch_size": (1, 1_000),
    "random_seed": (0, 2**63 - 1),
    "warmup_bars": (0, 10_000),
    "validate_top": (0, 50),
    "hall_of_fame_size": (1, 100),
}


@dataclass(frozen=True)
class RunInputs:
    """What a run was asked for, cleaned."""

    name: str
    seeds: tuple[str, ...]
    instruments: tuple[Instrument, ...]
    timeframe: str
    start: datetime
    end: datetime
    split: tuple[float, float, float]
    population: int
    generations: int
    batch_size: int
    objectives: tuple[str, ...]
    costs: Mapping[str, float]
    random_seed: int
    warmup_bars: int
    validate_top: int
    hall_of_fame_size: int

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_errors(values: Mapping[str, Any]) -> dict[str, str]:
    errors = {}
    for name, (low, high) in LIMITS.items():
        value = values[name]
        if not _is_int(value):
            errors[name] = "must be a whole number"
        elif not low <= value <= high:
            errors[name] = f"must be between {low} and {high}"
    if not errors and values["batch_size"] > values["population"]:
        errors["batch_size"] = "must not exceed the population"
    if not errors and values["hall_of_fame_size"] < values["validate_top"]:
        errors["validate_top"] = "must not exceed the hall of fame size"
    return errors


def _seed_errors(seeds: Sequence[str] | None) -> tuple[tuple[str, ...], dict[str, str]]:
    names = tuple(dict.fromkeys(seeds)) if seeds else tuple(SEEDS)
    unknown = [n for n in names if not isinstance(n, str) or n not in SEEDS]
    if unknown:
        return (), {"seeds": f"unknown seeds {unknown}; known: {', '.join(SEEDS)}"}
    if not any("entry" in get_seed(n).roles for n in names):
        entries = [n for n in SEEDS if "entry" in get_seed(n).roles]
        return (), {"seeds": f"allow at least one entry seed ({', '.join(entries)})"}
    return names, {}


def _objective_errors(objectives: Sequence[str] | None) -> tuple[tuple[str, ...], dict]:
    try:
        return check_objectives(objectives if objectives else OBJECTIVE_NAMES), {}
    except ValueError as exc:
        return (), {"objectives": str(exc)}


def _cost_errors(costs: Mapping[str, Any] | None) -> tuple[dict[str, float], dict[str, str]]:
    if costs is None:
        return Costs().as_dict(), {}
    if not isinstance(costs, Mapping):
        return {}, {"costs": "must be an object with maker_fee, taker_fee, slippage"}
    known = Costs().as_dict()
    errors = {f"costs.{k}": f"unknown cost (expected one of {sorted(known)})"
              for k in costs if k not in known}
    merged = {**known, **{k: v for k, v in costs.items() if k in known}}
    for key, value in merged.items():
        try:
            Costs(**{key: value})
        except (TypeError, ValueError) as exc:
            errors[f"costs.{key}"] = str(exc)
    for key in ("taker_fee", "slippage"):
        if f"costs.{key}" not in errors and not merged[key] > 0:
            errors[f"costs.{key}"] = "genomes are always scored with costs: must be > 0"
    return ({} if errors else {k: float(v) for k, v in merged.items()}), errors


def _range_errors(timeframe: str, start: Any, end: Any) -> dict[str, str]:
    errors = {}
    if timeframe not in TIMEFRAME_MS:
        errors["timeframe"] = f"unknown timeframe; expected one of {', '.join(TIMEFRAME_MS)}"
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or timezone.is_naive(value):
            errors[name] = "must be a timezone-aware date-time"
    if not errors and start >= end:
        errors["end"] = "must be after start"
    return errors


def _split_errors(split: Sequence[float] | None, timeframe: str, start: datetime, end: datetime,
                  ) -> tuple[tuple[float, float, float], dict[str, str]]:
    values = tuple(split) if split else DEFAULT_SPLIT
    if (len(values) != 3 or any(isinstance(v, bool) or not isinstance(v, (int, float))
                                or not math.isfinite(v) or v <= 0 for v in values)
            or abs(sum(values) - 1.0) > 1e-6):
        return DEFAULT_SPLIT, {"split": "give three positive fractions summing to 1 "
                                        "(in-sample, out-of-sample, walk-forward)"}
    fractions = (float(values[0]), float(values[1]), 1.0 - float(values[0]) - float(values[1]))
    try:
        SplitWindows.standard(_ms(start), _ms(end), timeframe, fractions)
    except ValueError as exc:
        return fractions, {"end": f"the range is too short to split: {exc}"}
    return fractions, {}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _instrument_errors(ids: Sequence[int], timeframe: str, windows: SplitWindows,
                       ) -> tuple[tuple[Instrument, ...], dict[str, str]]:
    if not ids:
        return (), {"instrument_ids": "choose at least one instrument"}
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        return (), {"instrument_ids": "must be instrument ids (whole numbers)"}
    if len(set(ids)) > MAX_INSTRUMENTS:
        return (), {"instrument_ids": f"at most {MAX_INSTRUMENTS} instruments"}
    found = instruments_by_ids([i for i in set(ids) if 0 < i < 2**63])
    missing = sorted(set(ids) - {i.pk for i in found})
    if missing:
        return (), {"instrument_ids": f"unknown instrument ids {missing}"}
    problems = []
    for stage, need in (("in_sample", MIN_IN_SAMPLE_BARS), ("out_of_sample", MIN_STAGE_BARS),
                        ("walk_forward", MIN_STAGE_BARS)):
        start_ms, end_ms = windows.stage(stage)
        counts = candle_counts([i.pk for i in found], timeframe, start_ms=start_ms, end_ms=end_ms)
        problems += [f"{i} has {counts[i.pk]} {timeframe} bars in the {stage.replace('_', '-')} "
                     f"span (at least {need} needed)" for i in found if counts[i.pk] < need]
    if problems:
        return (), {"instrument_ids": "not enough data: " + "; ".join(problems)}
    return tuple(found), {}


def run_inputs_validate(
    *, name: str = "", seeds: Sequence[str] | None = None, instrument_ids: Sequence[int],
    timeframe: str = "1h", start: datetime, end: datetime, split: Sequence[float] | None = None,
    population: int = 50, generations: int = 20, batch_size: int | None = None,
    objectives: Sequence[str] | None = None, costs: Mapping[str, Any] | None = None,
    random_seed: int = 42, warmup_bars: int = 720, validate_top: int = 10,
    hall_of_fame_size: int = 10,
) -> RunInputs:
    """Cleaned inputs, or ValidationError listing every bad field (see the module docstring)."""
    if batch_size is None:
        batch_size = min(DEFAULT_BATCH_SIZE, population) if _is_int(population) \
            else DEFAULT_BATCH_SIZE
    numbers = {"population": population, "generations": generations, "batch_size": batch_size,
               "random_seed": random_seed, "warmup_bars": warmup_bars,
               "validate_top": validate_top, "hall_of_fame_size": hall_of_fame_size}
    errors: dict[str, str] = _int_errors(numbers)
    clean_seeds, seed_errors = _seed_errors(seeds)
    clean_objectives, objective_errors = _objective_errors(objectives)
    clean_costs, cost_errors = _cost_errors(costs)
    errors |= seed_errors | objective_errors | cost_errors
    range_errors = _range_errors(timeframe, start, end)
    errors |= range_errors
    instruments: tuple[Instrument, ...] = ()
    fractions = DEFAULT_SPLIT
    if not range_errors:
        fractions, split_errors = _split_errors(split, timeframe, start, end)
        errors |= split_errors
        if not split_errors:
            windows = SplitWindows.standard(_ms(start), _ms(end), timeframe, fractions)
            instruments, instrument_errors = _instrument_errors(list(instrument_ids), timeframe,
                                                                windows)
            errors |= instrument_errors
    if errors:
        raise ValidationError(errors)
    return RunInputs(
        name=(name or "").strip()[:200], seeds=clean_seeds, instruments=instruments,
        timeframe=timeframe, start=start, end=end, split=fractions,
        objectives=clean_objectives, costs=clean_costs, **numbers,
    )


@dataclass(frozen=True)
class EngineSettings:
    """The engine objects of one run, and their JSON as the run stores it."""

    ga: GAConfig
    evaluation: EvaluationConfig
    windows: SplitWindows


def engine_settings(inputs: RunInputs) -> EngineSettings:
    """The GA, evaluation and split configuration of a run (deterministic)."""
    ga = GAConfig(
        space=GenomeSpace.from_seeds(inputs.seeds), population=inputs.population,
        generations=inputs.generations, seed=inputs.random_seed,
        hall_of_fame_size=inputs.hall_of_fame_size, objectives=inputs.objectives,
    )
    evaluation = EvaluationConfig(
        backtest=BacktestConfig(costs=Costs(**inputs.costs), allow_short=True),
    )
    windows = SplitWindows.standard(inputs.start_ms, inputs.end_ms, inputs.timeframe,
                                    inputs.split)
    return EngineSettings(ga=ga, evaluation=evaluation, windows=windows)


@dataclass(frozen=True)
class RunEngine:
    """A stored run's engine configuration, rebuilt from its JSON."""

    ga: GAConfig
    evaluation: EvaluationConfig
    windows: SplitWindows
    in_sample: DatasetSpec
    whole: DatasetSpec

    @classmethod
    def of(cls, run: Any) -> RunEngine:
        """`run` is an `EvolutionRun` with its instruments stored."""
        ids = sorted(run.instruments.values_list("pk", flat=True))
        spans = {name: tuple(span) for name, span in run.windows.items()}
        windows = SplitWindows(spans["in_sample"], spans["out_of_sample"], spans["walk_forward"])
        return cls(
            ga=GAConfig.from_dict(run.ga_config),
            evaluation=EvaluationConfig.from_dict(run.evaluation_config),
            windows=windows,
            in_sample=dataset_spec(ids, run.timeframe, start_ms=windows.in_sample[0],
                                   end_ms=windows.in_sample[1], warmup_bars=run.warmup_bars),
            whole=dataset_spec(ids, run.timeframe, start_ms=windows.in_sample[0],
                               end_ms=windows.walk_forward[1], warmup_bars=run.warmup_bars),
        )
