"""Parameter optimisation behind one interface (grid search here; the GA plugs in later).

Guarantees: an `Optimizer` receives bars, a strategy, a config and the bar
range [start, end) it may trade (bars before `start` are indicator history
only) and returns the best parameters plus the ledger of every trial it ran
(parameters, objective score, summary figures), so deflated Sharpe and PBO
can account for the whole search. `GridSearchOptimizer` evaluates its grid in
one batched backtest; a trial with fewer than `min_trades` trades, or a NaN
objective, scores -inf. Ties go to the earliest grid point.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from backtests.engine.backtest import run_batch
from backtests.engine.config import BacktestConfig
from backtests.engine.serialization import json_safe
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParameterError, ParamSpace, Strategy


@dataclass(frozen=True)
class Trial:
    params: Mapping[str, Any]
    score: float
    figures: Mapping[str, float]


@dataclass(frozen=True)
class OptimizationResult:
    best_params: Mapping[str, Any]
    best_score: float
    objective: str
    trials: tuple[Trial, ...]
    trial_returns: np.ndarray | None = field(default=None)  # (bars, trials) when kept

    @property
    def best_figures(self) -> Mapping[str, float]:
        return max(self.trials, key=lambda t: t.score).figures if self.trials else {}

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "best_params": dict(self.best_params),
            "best_score": self.best_score,
            "objective": self.objective,
            "trials": [{"params": dict(t.params), "score": t.score, **t.figures}
                       for t in self.trials],
        })


class Optimizer(Protocol):
    objective: str

    def optimize(
        self, bars: Bars, strategy: Strategy, config: BacktestConfig, *, start: int, end: int
    ) -> OptimizationResult: ...


def _axis(param: Param, points: int) -> list[Any]:
    if param.kind == "bool":
        return [False, True]
    if param.kind == "categorical":
        return list(param.choices)
    assert param.low is not None and param.high is not None
    if param.log:
        values = np.geomspace(param.low, param.high, points)
    else:
        values = np.linspace(param.low, param.high, points)
    if param.kind == "int":
        return sorted({int(round(v)) for v in values})
    return [float(v) for v in values]


def parameter_grid(space: ParamSpace, grid: Mapping[str, Sequence[Any]] | None = None, *,
                   points_per_param: int = 5) -> list[dict[str, Any]]:
    """Every combination of `grid` values (or evenly spaced points of each parameter)."""
    grid = dict(grid or {})
    unknown = set(grid) - set(space.names())
    if unknown:
        raise ParameterError({name: "not a parameter of this strategy" for name in unknown})
    axes = {p.name: list(grid.get(p.name, _axis(p, points_per_param))) for p in space}
    names = list(axes)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes.values())]


@dataclass(frozen=True)
class GridSearchOptimizer:
    """Exhaustive search over a grid, scored by one batch-result metric."""

    grid: Mapping[str, Sequence[Any]] | None = None
    objective: str = "sharpe"
    points_per_param: int = 5
    min_trades: int = 1
    keep_returns: bool = False

    def candidates(self, strategy: Strategy, bars: Bars) -> list[dict[str, Any]]:
        """The grid points the strategy accepts (cross-parameter rules applied)."""
        valid = []
        probe = bars.slice(0, min(len(bars), 300))
        for params in parameter_grid(strategy.param_space, self.grid,
                                     points_per_param=self.points_per_param):
            try:
                strategy.signals(probe, strategy.param_space.validate(params))
            except ParameterError:
                continue
            valid.append(params)
        if not valid:
            raise ParameterError({"grid": "no grid point is a valid parameter set"})
        return valid

    def optimize(
        self, bars: Bars, strategy: Strategy, config: BacktestConfig, *, start: int, end: int
    ) -> OptimizationResult:
        candidates = self.candidates(strategy, bars)
        batch = run_batch(bars, strategy, candidates, config, start=start, end=end,
                          keep_returns=self.keep_returns)
        scores = np.where(np.isnan(batch.metric(self.objective)), -np.inf,
                          batch.metric(self.objective))
        scores = np.where(batch.metrics["trades"] >= self.min_trades, scores, -np.inf)
        trials = tuple(
            Trial(batch.params[i], float(scores[i]),
                  {k: float(v[i]) for k, v in batch.metrics.items()})
            for i in range(len(batch))
        )
        best = int(np.argmax(scores))
        return OptimizationResult(
            best_params=batch.params[best], best_score=float(scores[best]),
            objective=self.objective, trials=trials, trial_returns=batch.returns,
        )
