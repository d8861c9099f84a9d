"""Walk-forward windows, train-only optimisation, stitched out-of-sample equity, splits."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from backtests.engine.backtest import run_backtest
from backtests.engine.config import BacktestConfig
from backtests.engine.optimizer import GridSearchOptimizer, OptimizationResult, parameter_grid
from backtests.engine.splits import standard_split, validate_with_splits
from backtests.engine.strategies import SMACrossover
from backtests.engine.walk_forward import (
    WalkForwardConfig,
    parameter_stability,
    walk_forward,
    walk_forward_windows,
)
from trading.engine.strategy import ParameterError

GRID = {"fast": [6, 12, 24], "slow": [48, 96]}


@pytest.mark.parametrize("anchored", [False, True])
def test_windows_tile_the_range_with_the_train_test_ratio(anchored):
    config = WalkForwardConfig(n_windows=4, train_test_ratio=3.0, anchored=anchored)
    windows = walk_forward_windows(100, 1_100, config)
    tests = [w.test for w in windows]
    assert tests[-1][1] == 1_100
    assert all(a[1] == b[0] for a, b in zip(tests, tests[1:], strict=False))
    assert len({t[1] - t[0] for t in tests}) == 1
    test_len = tests[0][1] - tests[0][0]
    for w in windows:
        assert w.train[1] == w.test[0]
        if anchored or w.index == 0:
            assert w.train[0] == 100
        else:
            assert w.train[1] - w.train[0] == 3 * test_len
    with pytest.raises(ValueError, match="too few"):
        walk_forward_windows(0, 12, config)


@dataclass
class RecordingOptimizer:
    """A grid search that remembers which bar ranges it was allowed to see."""

    inner: GridSearchOptimizer
    seen: list[tuple[int, int]] = field(default_factory=list)
    objective: str = "sharpe"

    def optimize(self, bars, strategy, config, *, start, end) -> OptimizationResult:
        self.seen.append((start, end))
        return self.inner.optimize(bars, strategy, config, start=start, end=end)


def test_parameters_are_chosen_on_train_bars_and_traded_on_the_next_window(btc_2021_2022):
    # given a recording grid search
    optimizer = RecordingOptimizer(GridSearchOptimizer(grid=GRID))
    config = BacktestConfig()
    # when walking forward in 4 windows
    result = walk_forward(btc_2021_2022, SMACrossover(), optimizer, config,
                          WalkForwardConfig(n_windows=4, train_test_ratio=2.0))
    # then each optimisation ended where its test window starts
    assert optimizer.seen == [w.window.train for w in result.windows]
    for window in result.windows:
        assert window.window.train[1] == window.window.test[0]
        # and the test equity is a plain backtest of the chosen parameters on that window
        alone = run_backtest(btc_2021_2022, SMACrossover(), window.params, config,
                             start=window.window.test[0], end=window.window.test[1])
        np.testing.assert_allclose(window.test_equity, alone.equity, rtol=1e-12)
    # and the stitched curve chains the windows' returns
    growth = np.prod([w.test_equity[-1] / config.initial_cash for w in result.windows])
    assert result.equity[-1] == pytest.approx(config.initial_cash * growth, rel=1e-12)
    assert len(result.equity) == sum(len(w.test_equity) for w in result.windows)
    assert np.all(np.diff(result.timestamps) > 0)
    train = np.mean([w.train_figures["annualized_return"] for w in result.windows])
    if train > 0:
        assert result.efficiency == pytest.approx(result.oos_figures["annualized_return"] / train)
    json.dumps(result.to_dict(), allow_nan=False)


def test_parameter_stability_is_one_when_nothing_changes_and_drops_when_it_jumps():
    space = SMACrossover().param_space
    same = parameter_stability(space, [{"fast": 10, "slow": 50}] * 4)
    assert same["stability"] == 1.0
    assert same["parameters"]["fast"]["std"] == 0.0
    jumpy = parameter_stability(space, [{"fast": 2, "slow": 50}, {"fast": 200, "slow": 50}])
    assert jumpy["parameters"]["fast"]["mean_abs_change"] == pytest.approx(1.0)
    assert jumpy["stability"] == pytest.approx(0.5)


def test_grid_search_keeps_every_trial_and_skips_invalid_points(btc_2022):
    optimizer = GridSearchOptimizer(grid={"fast": [10, 60], "slow": [30, 120]})
    result = optimizer.optimize(btc_2022, SMACrossover(), BacktestConfig(), start=0,
                                end=len(btc_2022))
    # (60, 30) breaks fast < slow and is not a trial
    assert [dict(t.params) for t in result.trials] == [
        {"fast": 10, "slow": 30}, {"fast": 10, "slow": 120}, {"fast": 60, "slow": 120}]
    assert result.best_score == max(t.score for t in result.trials)
    assert len(parameter_grid(SMACrossover().param_space, points_per_param=3)) == 9
    with pytest.raises(ParameterError):
        parameter_grid(SMACrossover().param_space, {"nope": [1]})


def test_the_standard_split_is_60_20_20():
    plan = standard_split(1_000)
    assert (plan.in_sample, plan.out_of_sample, plan.walk_forward) == (
        (0, 600), (600, 800), (800, 1_000))


def test_split_validation_reports_the_three_stages_side_by_side(btc_2021_2022):
    report = validate_with_splits(btc_2021_2022, SMACrossover(), GridSearchOptimizer(grid=GRID),
                                  wf_config=WalkForwardConfig(n_windows=3))
    table = report.side_by_side()
    assert set(table["sharpe"]) == {"in_sample", "out_of_sample", "walk_forward"}
    assert report.in_sample.params == report.out_of_sample.params == report.best_params
    assert report.out_of_sample.start_index == report.plan.out_of_sample[0]
    assert report.walk_forward.windows[0].window.train[0] == report.plan.walk_forward[0]
    json.dumps(report.to_dict(), allow_nan=False)
