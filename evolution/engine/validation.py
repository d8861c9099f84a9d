"""Validation of evolved strategies and of the run that found them.

Guarantees:
- `SplitWindows.standard` cuts a date range into consecutive 60/20/20
  in-sample / out-of-sample / walk-forward spans of time, with the bar split
  of `backtests.engine.splits.standard_split` applied to the range's bar grid;
  the GA sees only the in-sample span;
- `validate_genome` reports, per instrument, the same figures for the three
  stages: the genome as evolved traded on the in-sample and out-of-sample
  spans (`run_backtest`, fees and slippage on), and a walk-forward over the
  last span that re-optimises the genome's parameters on each train window
  among the genome and a few parameter mutations of it (never its structure);
  bars before a span only warm indicators up. It also runs the thorough
  lookahead checks on the first instrument: `check_lookahead` at many random
  cuts and the GA's aimed cuts (`lookahead_gate`) after many firing bars;
- `out_of_sample_truth` scores genomes on another window with the GA's own
  objectives, next to their in-sample fitness;
- `run_overfitting` gives the run-level deflated Sharpe ratio and PBO from the
  trial ledger (`backtests.engine.overfitting`), on the ledger-period returns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtests.engine.backtest import run_backtest
from backtests.engine.config import BacktestConfig
from backtests.engine.lookahead import check_lookahead
from backtests.engine.overfitting import (
    deflated_sharpe_from_trials,
    per_period_sharpe,
    probability_of_backtest_overfitting,
)
from backtests.engine.serialization import json_safe
from backtests.engine.splits import SIDE_BY_SIDE_FIGURES, STANDARD_FRACTIONS, standard_split
from backtests.engine.statistics import flat_figures
from backtests.engine.walk_forward import WalkForwardConfig, walk_forward
from evolution.engine.datasets import Dataset
from evolution.engine.evaluation import Evaluation, EvaluationConfig, evaluate_genomes
from evolution.engine.genome import Genome, decode
from evolution.engine.lookahead_gate import lookahead_offence
from evolution.engine.neighbourhood import NeighbourhoodOptimizer
from evolution.engine.trial_ledger import TrialLedger
from trading.engine.market import Bars, timeframe_ms

STAGES = ("in_sample", "out_of_sample", "walk_forward")


@dataclass(frozen=True)
class SplitWindows:
    """In-sample, out-of-sample and walk-forward spans as [start_ms, end_ms)."""

    in_sample: tuple[int, int]
    out_of_sample: tuple[int, int]
    walk_forward: tuple[int, int]

    @classmethod
    def standard(
        cls,
        start_ms: int,
        end_ms: int,
        timeframe: str,
        fractions: tuple[float, float, float] = STANDARD_FRACTIONS,
    ) -> SplitWindows:
        step = timeframe_ms(timeframe)
        plan = standard_split((end_ms - start_ms) // step, fractions)

        def span(bars: tuple[int, int]) -> tuple[int, int]:
            return start_ms + bars[0] * step, start_ms + bars[1] * step

        last = span(plan.walk_forward)
        return cls(span(plan.in_sample), span(plan.out_of_sample), (last[0], end_ms))

    def stage(self, name: str) -> tuple[int, int]:
        if name not in STAGES:
            raise ValueError(f"unknown stage {name!r}; expected one of {', '.join(STAGES)}")
        span: tuple[int, int] = getattr(self, name)
        return span

    def as_dict(self) -> dict[str, list[int]]:
        return {name: list(self.stage(name)) for name in STAGES}


@dataclass(frozen=True)
class StrategyValidation:
    """A genome's figures by stage and instrument, walk-forward details, lookahead result."""

    identity: str
    windows: SplitWindows
    instruments: Mapping[str, Mapping[str, Mapping[str, Any] | None]]  # symbol -> stage -> figures
    walk_forward: Mapping[str, Mapping[str, Any]]  # symbol -> efficiency, parameter stability
    lookahead: Mapping[str, Any]

    @property
    def lookahead_passed(self) -> bool:
        return bool(self.lookahead.get("passed"))

    def side_by_side(self) -> dict[str, dict[str, float | None]]:
        """figure -> stage -> mean over the instruments that have it."""
        table: dict[str, dict[str, float | None]] = {}
        for figure in SIDE_BY_SIDE_FIGURES:
            table[figure] = {}
            for stage in STAGES:
                figures = [stages.get(stage) or {} for stages in self.instruments.values()]
                values = [float(f[figure]) for f in figures if _is_number(f.get(figure))]
                table[figure][stage] = float(np.mean(values)) if values else None
        return table

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "identity": self.identity,
            "windows": self.windows.as_dict(),
            "side_by_side": self.side_by_side(),
            "instruments": {s: dict(v) for s, v in self.instruments.items()},
            "walk_forward": {s: dict(v) for s, v in self.walk_forward.items()},
            "lookahead": dict(self.lookahead),
        })


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _bar_range(bars: Bars, span: tuple[int, int]) -> tuple[int, int] | None:
    start, end = (int(np.searchsorted(bars.timestamps, t)) for t in span)
    return (start, end) if end - start >= 2 else None


def _instrument_stages(
    genome: Genome, bars: Bars, windows: SplitWindows, config: BacktestConfig,
    wf_config: WalkForwardConfig, optimizer: NeighbourhoodOptimizer,
) -> tuple[dict[str, dict[str, Any] | None], dict[str, Any]]:
    strategy = decode(genome)
    stages: dict[str, dict[str, Any] | None] = {}
    for stage in ("in_sample", "out_of_sample"):
        span = _bar_range(bars, windows.stage(stage))
        stages[stage] = None if span is None else flat_figures(
            run_backtest(bars, strategy, {}, config, start=span[0], end=span[1]).stats)
    details: dict[str, Any] = {}
    span = _bar_range(bars, windows.walk_forward)
    stages["walk_forward"] = None
    if span is not None:
        try:
            forward = walk_forward(bars, strategy, optimizer, config, wf_config,
                                   start=span[0], end=span[1])
        except ValueError as exc:  # too few bars for the windows: reported, not fatal
            details = {"error": str(exc)}
        else:
            stages["walk_forward"] = dict(forward.oos_figures)
            details = {"efficiency": forward.efficiency,
                       "parameter_stability": forward.parameter_stability["stability"]}
    return stages, details


def validate_genome(
    genome: Genome,
    bars: Sequence[Bars],
    windows: SplitWindows,
    config: BacktestConfig | None = None,
    wf_config: WalkForwardConfig | None = None,
    *,
    neighbours: int = 6,
    lookahead_cuts: int = 20,
    aimed_cuts_per_signal: int = 5,
) -> StrategyValidation:
    """In-sample / out-of-sample / walk-forward figures of `genome` on each instrument.

    `bars` hold each instrument's full history through the end of the windows.
    """
    config = config or BacktestConfig(allow_short=True)
    wf_config = wf_config or WalkForwardConfig(n_windows=3)
    optimizer = NeighbourhoodOptimizer(genome, neighbours=neighbours)
    instruments, forward = {}, {}
    for instrument in bars:
        history = instrument.slice(0, int(np.searchsorted(instrument.timestamps,
                                                          windows.walk_forward[1])))
        stages, details = _instrument_stages(genome, history, windows, config, wf_config,
                                             optimizer)
        instruments[instrument.symbol] = stages
        forward[instrument.symbol] = details
    return StrategyValidation(genome.identity, windows, instruments, forward,
                              lookahead_report(genome, bars[0], windows, lookahead_cuts,
                                               aimed_cuts_per_signal))


def lookahead_report(
    genome: Genome, bars: Bars, windows: SplitWindows, cuts: int, per_signal: int
) -> dict[str, Any]:
    """Both truncation checks on the instrument's bars through the end of the windows:
    `check_lookahead` at `cuts` random points, and cuts aimed after `per_signal` firing
    bars of each signal, drawn among all of them (`lookahead_gate`). Passed only if
    both pass."""
    history = bars.slice(0, int(np.searchsorted(bars.timestamps, windows.walk_forward[1])))
    strategy = decode(genome)
    seed = int(genome.genes_hash[:16], 16)
    random_cuts = check_lookahead(strategy, history, n_cuts=cuts, seed=seed)
    aimed = lookahead_offence(strategy, history, strategy.signals(history, {}),
                              per_field=per_signal, seed=seed)
    return {
        "passed": random_cuts.passed and aimed is None,
        "random_cuts": random_cuts.to_dict(),
        "aimed_cuts": {"passed": aimed is None, "offence": aimed},
    }


def out_of_sample_truth(
    evaluations: Sequence[Evaluation], out_of_sample: Dataset, config: EvaluationConfig
) -> list[dict[str, Any]]:
    """Each genome's in-sample objectives next to the same objectives out of sample."""
    later = evaluate_genomes([e.genome for e in evaluations], out_of_sample, config)
    return [
        {
            "identity": e.genome.identity,
            "in_sample": e.objectives.as_dict(),
            "out_of_sample": o.objectives.as_dict(),
            "out_of_sample_reason": o.reason,
        }
        for e, o in zip(evaluations, later, strict=True)
    ]


def run_overfitting(
    ledger: TrialLedger, *, selected: str | None = None, n_splits: int = 16
) -> dict[str, Any]:
    """Deflated Sharpe of the selected trial (default: best Sharpe) and the run's PBO.

    Only valid trials count (a crashed genome produced no returns); each genome
    once. PBO is None with fewer than 2 trials or fewer than 2 periods per split.
    """
    _, matrix, trials = ledger.returns_matrix()
    report: dict[str, Any] = {"trials": len(trials), "recorded": len(ledger),
                              "periods": int(matrix.shape[0]), "deflated_sharpe": None,
                              "pbo": None, "selected": None}
    if not trials or matrix.shape[0] < 3:
        return report
    sharpes = np.asarray(per_period_sharpe(matrix), dtype=np.float64).reshape(-1)
    if not np.any(np.isfinite(sharpes)):
        return report
    if selected is None:
        index = int(np.nanargmax(sharpes))
    else:
        found = [i for i, t in enumerate(trials) if t.identity == selected]
        if not found:
            raise ValueError(f"{selected} is not a valid trial of this ledger")
        index = found[0]
    dsr = deflated_sharpe_from_trials(matrix, index)
    report["selected"] = trials[index].identity
    report["deflated_sharpe"] = dsr.to_dict()
    if len(trials) >= 2 and matrix.shape[0] >= 2 * n_splits:
        report["pbo"] = probability_of_backtest_overfitting(matrix, n_splits).to_dict()
    return report


__all__ = [
    "STAGES",
    "SplitWindows",
    "StrategyValidation",
    "out_of_sample_truth",
    "run_overfitting",
    "validate_genome",
]
