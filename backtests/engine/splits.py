"""The standard validation split: 60% in-sample, 20% out-of-sample, 20% walk-forward.

Guarantees: the three ranges are consecutive, non-overlapping and cover all
bars; parameters are chosen on the in-sample range only, then traded unchanged
on the out-of-sample range; the walk-forward range runs its own walk-forward
analysis (re-optimising on its train windows). Earlier bars serve only as
indicator history. `side_by_side` reports the same figures for the three
stages, ready for a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backtests.engine.backtest import run_backtest
from backtests.engine.config import BacktestConfig
from backtests.engine.optimizer import OptimizationResult, Optimizer
from backtests.engine.results import BacktestResult
from backtests.engine.serialization import json_safe
from backtests.engine.statistics import flat_figures
from backtests.engine.walk_forward import WalkForwardConfig, WalkForwardResult, walk_forward
from trading.engine.market import Bars
from trading.engine.strategy import Strategy

STANDARD_FRACTIONS = (0.6, 0.2, 0.2)
SIDE_BY_SIDE_FIGURES = ("total_return", "annualized_return", "sharpe", "sortino", "calmar",
                        "max_drawdown", "volatility")


@dataclass(frozen=True)
class SplitPlan:
    in_sample: tuple[int, int]
    out_of_sample: tuple[int, int]
    walk_forward: tuple[int, int]


def standard_split(n_bars: int, fractions: tuple[float, float, float] = STANDARD_FRACTIONS,
                   ) -> SplitPlan:
    """Consecutive in-sample / out-of-sample / walk-forward ranges of `n_bars` bars."""
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError("fractions must be three positive numbers summing to 1")
    first = int(round(n_bars * fractions[0]))
    second = int(round(n_bars * (fractions[0] + fractions[1])))
    if first < 2 or second - first < 2 or n_bars - second < 2:
        raise ValueError(f"{n_bars} bars are too few to split")
    return SplitPlan((0, first), (first, second), (second, n_bars))


@dataclass(frozen=True, eq=False)
class SplitReport:
    plan: SplitPlan
    optimization: OptimizationResult
    in_sample: BacktestResult
    out_of_sample: BacktestResult
    walk_forward: WalkForwardResult

    @property
    def best_params(self) -> Mapping[str, Any]:
        return self.optimization.best_params

    def side_by_side(self) -> dict[str, dict[str, float | None]]:
        """figure -> {in_sample, out_of_sample, walk_forward} (JSON-safe)."""
        stages = {
            "in_sample": flat_figures(self.in_sample.stats),
            "out_of_sample": flat_figures(self.out_of_sample.stats),
            "walk_forward": dict(self.walk_forward.oos_figures),
        }
        table = {name: {stage: figures.get(name) for stage, figures in stages.items()}
                 for name in SIDE_BY_SIDE_FIGURES}
        return json_safe(table)

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "plan": self.plan.__dict__,
            "best_params": dict(self.best_params),
            "side_by_side": self.side_by_side(),
            "walk_forward": self.walk_forward.to_dict(),
        })


def validate_with_splits(
    bars: Bars,
    strategy: Strategy,
    optimizer: Optimizer,
    config: BacktestConfig | None = None,
    wf_config: WalkForwardConfig | None = None,
    *,
    fractions: tuple[float, float, float] = STANDARD_FRACTIONS,
) -> SplitReport:
    """Optimise in-sample, trade out-of-sample, then walk forward over the last range."""
    config = config or BacktestConfig()
    plan = standard_split(len(bars), fractions)
    found = optimizer.optimize(bars, strategy, config, start=plan.in_sample[0],
                               end=plan.in_sample[1])
    in_sample = run_backtest(bars, strategy, found.best_params, config,
                             start=plan.in_sample[0], end=plan.in_sample[1])
    out_of_sample = run_backtest(bars, strategy, found.best_params, config,
                                 start=plan.out_of_sample[0], end=plan.out_of_sample[1])
    forward = walk_forward(bars, strategy, optimizer, config, wf_config,
                           start=plan.walk_forward[0], end=plan.walk_forward[1])
    return SplitReport(plan, found, in_sample, out_of_sample, forward)
