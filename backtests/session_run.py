"""The analyses of one backtest session, run in stages over bars already loaded.

Guarantees: pure Python over the engine (no Django): `RunInputs` holds the
validated strategy, parameters, config, options and the aligned bars (with
indicator warm-up bars before `start_index`); each `Stage` adds JSON-safe
sections to the run's `sections` dict, in the order of `STAGES`, so a caller
can report progress and stop between stages. The sections are exactly what a
`BacktestResult` row stores (see `RESULT_SECTIONS`). Every figure comes from
the engine; this module only orders the calls and shapes the output.
The simulation stage is the only one that depends on the session's kind: it
runs the kind's `Simulator` from `SIMULATORS` (vectorbt, or the trading kernel
replaying the bars through `backtests.event_driven`), which leaves the same
result shape behind. Monte Carlo resamples that result's trades whatever the
kind; walk-forward and the splits always optimise with the vectorised engine
(thousands of parameter sets); the lookahead check reads the strategy's signals.
An analysis that cannot run on these inputs (too few trades or bars for
Monte Carlo, walk-forward or the splits) is recorded as skipped with the
reason; it never fails the session. Walk-forward and the splits optimise one
instrument: the first of a multi-instrument session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backtests.curves import curve_indices, thinned
from backtests.engine.backtest import run_backtest, run_multi
from backtests.engine.config import BacktestConfig
from backtests.engine.lookahead import check_lookahead
from backtests.engine.monte_carlo import monte_carlo
from backtests.engine.optimizer import GridSearchOptimizer
from backtests.engine.overfitting import (
    deflated_sharpe_from_trials,
    probability_of_backtest_overfitting,
)
from backtests.engine.results import BacktestResult, MultiBacktestResult
from backtests.engine.serialization import json_safe
from backtests.engine.splits import validate_with_splits
from backtests.engine.statistics import flat_figures
from backtests.engine.walk_forward import WalkForwardConfig, walk_forward
from backtests.event_driven import ENGINES, run_event_driven, window_bars
from trading.engine.market import Bars
from trading.engine.strategy import Strategy

RESULT_SECTIONS = ("statistics", "equity", "trades", "time_analysis", "monte_carlo",
                   "walk_forward", "splits", "overfitting", "lookahead", "kernel_summary")
MAX_CURVE_POINTS = 5_000
FAN_POINTS = 200
MIN_MONTE_CARLO_TRADES = 2
HISTOGRAM_BINS = 40
LOOKAHEAD_MIN_BARS = 50
MAX_OFFENCES = 50
PBO_SPLITS = 16
MAX_TRIAL_RETURNS = 20_000_000  # bars x trials kept for overfitting statistics (160 MB)
OBJECTIVE = "sharpe"
WARMUP_FACTOR = 3  # warm-up bars = this x the longest integer parameter (SMA/RSI lengths)
MAX_WARMUP_BARS = 10_000


@dataclass(frozen=True, eq=False)
class RunInputs:
    strategy: Strategy
    params: Mapping[str, Any]
    config: BacktestConfig
    options: Mapping[str, Any]
    bars: tuple[Bars, ...]  # aligned: the same timestamps for every instrument
    start_index: int  # first traded bar; earlier bars only warm indicators up
    kind: str = "vectorized"  # a key of SIMULATORS

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


@dataclass
class RunState:
    simulation: BacktestResult | MultiBacktestResult | None = None
    sections: dict[str, Any] = field(default_factory=dict)
    # Per-trade fields that replace the trades table's own (the kernel's exit reasons).
    trade_notes: tuple[Mapping[str, Any], ...] = ()

    @property
    def portfolio(self) -> BacktestResult:
        assert self.simulation is not None, "the simulation stage has not run"
        if isinstance(self.simulation, MultiBacktestResult):
            return self.simulation.portfolio
        return self.simulation


@dataclass(frozen=True)
class Stage:
    name: str
    label: str
    weight: float  # share of the run's time, for the progress bar
    run: Callable[[RunInputs, RunState], None]


def warmup_bars(params: Mapping[str, Any]) -> int:
    """Bars loaded before the start so indicators are warm when trading begins."""
    lengths = [v for v in params.values() if isinstance(v, int) and not isinstance(v, bool)]
    return min(MAX_WARMUP_BARS, WARMUP_FACTOR * max(lengths, default=0))


def _skipped(reason: str) -> dict[str, Any]:
    return {"skipped": True, "reason": reason}


def _times(bars: Bars, start: int, end: int) -> dict[str, int]:
    """Open time of the first bar and end (open time after the last bar) of [start, end)."""
    step = int(bars.timestamps[1] - bars.timestamps[0]) if len(bars) > 1 else 0
    last = int(bars.timestamps[end - 1]) + step
    return {"start_time": int(bars.timestamps[start]), "end_time": last}


def _thin_curve(timestamps: np.ndarray, equity: np.ndarray) -> dict[str, Any]:
    keep = np.unique(np.linspace(0, len(equity) - 1, min(len(equity), MAX_CURVE_POINTS))
                     .astype(np.int64)) if len(equity) else np.arange(0)
    return json_safe({"timestamps": np.asarray(timestamps)[keep],
                      "equity": np.asarray(equity)[keep]})


# --- simulation and statistics --------------------------------------------------------------
def simulate_vectorized(inputs: RunInputs, state: RunState) -> None:
    if len(inputs.bars) == 1:
        state.simulation = run_backtest(inputs.bars[0], inputs.strategy, inputs.params,
                                        inputs.config, start=inputs.start_index)
    else:
        state.simulation = run_multi(list(inputs.bars), inputs.strategy, inputs.params,
                                     inputs.config, start=inputs.start_index)


def simulate_event_driven(inputs: RunInputs, state: RunState) -> None:
    simulation = run_event_driven(
        inputs.bars, inputs.strategy, inputs.params, inputs.config, inputs.options,
        start=inputs.start_index, window=window_bars(warmup_bars(inputs.params)),
    )
    state.simulation = simulation.result
    state.trade_notes = tuple({"exit_reason": reason} for reason in simulation.exit_reasons)
    state.sections["kernel_summary"] = json_safe(dict(simulation.summary))


@dataclass(frozen=True)
class Simulator:
    """How one kind of session simulates its trades."""

    run: Callable[[RunInputs, RunState], None]
    min_warmup_bars: Callable[[Mapping[str, Any]], int]  # from the session's options
    analyses_note: str = ""  # what the pages say about the analyses of this kind


SIMULATORS: Mapping[str, Simulator] = {
    "vectorized": Simulator(simulate_vectorized, lambda options: 0),
    "event_driven": Simulator(
        simulate_event_driven,
        lambda options: ENGINES[str(options.get("engine", "strategy"))].min_warmup_bars,
        analyses_note="Optimised with the vectorised engine (vectorbt): searching thousands "
                      "of parameter sets needs its speed. The trades, statistics and Monte "
                      "Carlo above come from the event-driven replay.",
    ),
}


def simulate(inputs: RunInputs, state: RunState) -> None:
    SIMULATORS[inputs.kind].run(inputs, state)


def session_warmup_bars(kind: str, params: Mapping[str, Any], options: Mapping[str, Any]) -> int:
    """Bars loaded before the start: the indicators' warm-up, or what the kind needs."""
    return min(MAX_WARMUP_BARS, max(warmup_bars(params), SIMULATORS[kind].min_warmup_bars(options)))


def _equity_section(result: BacktestResult) -> dict[str, Any]:
    drawdown = result.drawdown
    keep = curve_indices(result.equity, drawdown, MAX_CURVE_POINTS)
    curves = thinned({"timestamps": result.timestamps, "equity": result.equity,
                      "benchmark": result.benchmark_equity, "drawdown": drawdown}, keep)
    return json_safe({**curves, "initial_cash": result.initial_cash,
                      "points": len(keep), "source_points": len(result.equity)})


def statistics(inputs: RunInputs, state: RunState) -> None:
    result = state.portfolio
    stats = dict(result.stats)
    state.sections["time_analysis"] = stats.pop("time_analysis", {})
    if isinstance(state.simulation, MultiBacktestResult):
        stats["instruments"] = {
            r.symbol: {k: v for k, v in r.stats.items() if k != "time_analysis"}
            for r in state.simulation.instruments
        }
    state.sections["statistics"] = json_safe(stats)
    state.sections["equity"] = _equity_section(result)
    records = result.trades.to_records()
    if state.trade_notes:
        records = [{**r, **n} for r, n in zip(records, state.trade_notes, strict=True)]
    state.sections["trades"] = records


def headline_metrics(statistics_section: Mapping[str, Any]) -> dict[str, Any]:
    """The figures copied onto the session for sorting (None where undefined)."""
    flat = flat_figures(statistics_section)
    trades = flat.get("trades")
    keys = ("total_return", "annualized_return", "sharpe", "sortino", "max_drawdown",
            "win_rate", "profit_factor")
    return {**{k: flat.get(k) for k in keys},
            "trade_count": None if trades is None else int(trades)}


# --- Monte Carlo ----------------------------------------------------------------------------
def monte_carlo_stage(inputs: RunInputs, state: RunState) -> None:
    paths = int(inputs.option("monte_carlo_paths", 0))
    returns = state.portfolio.trade_equity_returns()
    if paths == 0:
        state.sections["monte_carlo"] = _skipped("Monte Carlo turned off (0 paths)")
        return
    if len(returns) < MIN_MONTE_CARLO_TRADES:
        state.sections["monte_carlo"] = _skipped(
            f"{len(returns)} closed trades; at least {MIN_MONTE_CARLO_TRADES} needed")
        return
    try:
        result = monte_carlo(returns, n_paths=paths, seed=int(inputs.option("seed", 0)),
                             fan_points=FAN_POINTS)
    except ValueError as exc:  # e.g. a trade that lost more than the whole equity
        state.sections["monte_carlo"] = _skipped(str(exc))
        return
    section = result.to_dict()
    counts, edges = np.histogram(result.final_returns, bins=HISTOGRAM_BINS)
    section["final_return_histogram"] = {"edges": edges.tolist(), "counts": counts.tolist()}
    state.sections["monte_carlo"] = json_safe(section)


# --- walk-forward, splits, overfitting ------------------------------------------------------
def _wf_config(inputs: RunInputs) -> WalkForwardConfig:
    return WalkForwardConfig(
        n_windows=int(inputs.option("walk_forward_windows", 5)),
        train_test_ratio=float(inputs.option("walk_forward_train_test_ratio", 3.0)),
        anchored=inputs.option("walk_forward_mode", "rolling") == "anchored",
    )


def _optimizer(inputs: RunInputs, *, keep_returns: bool = False) -> GridSearchOptimizer:
    return GridSearchOptimizer(objective=OBJECTIVE, keep_returns=keep_returns,
                               points_per_param=int(inputs.option("optimizer_grid_points", 4)))


def _walk_forward_section(result: Any, bars: Bars) -> dict[str, Any]:
    section = result.to_dict()
    for window in section["windows"]:
        window["train_times"] = _times(bars, *window["train"])
        window["test_times"] = _times(bars, *window["test"])
    section["oos_equity"] = _thin_curve(result.timestamps, result.equity)
    section["symbol"] = bars.symbol
    section["objective"] = OBJECTIVE
    return section


def walk_forward_stage(inputs: RunInputs, state: RunState) -> None:
    if int(inputs.option("walk_forward_windows", 0)) == 0:
        state.sections["walk_forward"] = _skipped("walk-forward turned off (0 windows)")
        return
    bars = inputs.bars[0]
    try:
        result = walk_forward(bars, inputs.strategy, _optimizer(inputs), inputs.config,
                              _wf_config(inputs), start=inputs.start_index)
    except ValueError as exc:
        state.sections["walk_forward"] = _skipped(str(exc))
        return
    state.sections["walk_forward"] = _walk_forward_section(result, bars)


def _overfitting(trial_returns: np.ndarray | None, n_trials: int) -> dict[str, Any]:
    if trial_returns is None:
        return _skipped(f"{n_trials} trials over this many bars exceed the memory budget")
    if n_trials < 2:
        return _skipped("a single parameter set: nothing was selected among trials")
    section: dict[str, Any] = {"n_trials": n_trials, "objective": OBJECTIVE}
    try:
        section["deflated_sharpe"] = deflated_sharpe_from_trials(trial_returns).to_dict()
    except ValueError as exc:
        section["deflated_sharpe"] = _skipped(str(exc))
    try:
        pbo = probability_of_backtest_overfitting(trial_returns, n_splits=PBO_SPLITS).to_dict()
        pbo.pop("logits", None)
        section["pbo"] = pbo
    except ValueError as exc:
        section["pbo"] = _skipped(str(exc))
    return section


def splits_stage(inputs: RunInputs, state: RunState) -> None:
    if not inputs.option("splits", True):
        state.sections["splits"] = _skipped("60/20/20 validation turned off")
        state.sections["overfitting"] = _skipped("needs the 60/20/20 validation")
        return
    window = inputs.bars[0].slice(inputs.start_index, len(inputs.bars[0]))
    optimizer = _optimizer(inputs)
    try:
        n_trials = len(optimizer.candidates(inputs.strategy, window))
        keep = n_trials * len(window) <= MAX_TRIAL_RETURNS
        optimizer = _optimizer(inputs, keep_returns=keep)
        report = validate_with_splits(window, inputs.strategy, optimizer, inputs.config,
                                      _wf_config(inputs))
    except ValueError as exc:
        state.sections["splits"] = _skipped(str(exc))
        state.sections["overfitting"] = _skipped(str(exc))
        return
    section = report.to_dict()
    section["plan_times"] = {name: _times(window, *span)
                             for name, span in report.plan.__dict__.items()}
    section["walk_forward"].pop("oos_equity", None)
    section["symbol"] = window.symbol
    section["trials"] = n_trials
    state.sections["splits"] = section
    state.sections["overfitting"] = json_safe(
        _overfitting(report.optimization.trial_returns, n_trials))


# --- lookahead ------------------------------------------------------------------------------
def lookahead_stage(inputs: RunInputs, state: RunState) -> None:
    cuts = int(inputs.option("lookahead_points", 0))
    if cuts == 0:
        state.sections["lookahead"] = _skipped("lookahead check turned off (0 points)")
        return
    try:
        reports = {
            bars.symbol or str(i): check_lookahead(
                inputs.strategy, bars, inputs.params, n_cuts=cuts,
                min_bars=min(LOOKAHEAD_MIN_BARS, len(bars) // 2),
                seed=int(inputs.option("seed", 0)),
            ).to_dict()
            for i, bars in enumerate(inputs.bars)
        }
    except ValueError as exc:  # too few bars to cut
        state.sections["lookahead"] = _skipped(str(exc))
        return
    offences = [{**o, "symbol": symbol} for symbol, r in reports.items() for o in r["offences"]]
    state.sections["lookahead"] = {
        "passed": all(r["passed"] for r in reports.values()),
        "cut_points": len(next(iter(reports.values()))["cut_points"]),
        "instruments": sorted(reports),
        "offence_count": len(offences),
        "offences": offences[:MAX_OFFENCES],
    }


STAGES: tuple[Stage, ...] = (
    Stage("simulation", "Simulating trades", 0.10, simulate),
    Stage("statistics", "Computing statistics", 0.05, statistics),
    Stage("monte_carlo", "Monte Carlo resampling of the trades", 0.10, monte_carlo_stage),
    Stage("walk_forward", "Walk-forward optimisation", 0.30, walk_forward_stage),
    Stage("splits", "In-sample / out-of-sample / walk-forward splits", 0.35, splits_stage),
    Stage("lookahead", "Checking the signals for lookahead", 0.10, lookahead_stage),
)


def stage_starts() -> list[float]:
    """Progress (0..1) at the start of each stage."""
    weights = np.array([s.weight for s in STAGES])
    return (np.concatenate(([0.0], np.cumsum(weights)[:-1])) / weights.sum()).tolist()
