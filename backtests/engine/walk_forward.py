"""Walk-forward analysis: optimise on a train window, trade the next test window, roll on.

Guarantees:
- windows cover the bar range [start, end): k test windows of equal length
  follow each other without overlap and end at `end`; each train window of
  `train_test_ratio` x the test length ends where its test window begins;
  rolling windows slide by one test length, anchored ones all begin at
  `start`; any remainder of the division is added to the first train window;
- parameters are chosen on the train window only (through any `Optimizer`),
  then traded on the test window; bars before a window are used only as
  indicator history, never for choosing;
- out-of-sample equity is the test windows' equity curves chained (each window
  starts with the previous window's final equity), with its statistics;
- walk-forward efficiency = annualised out-of-sample return / mean annualised
  in-sample return of the chosen parameters (NaN when the latter is <= 0);
- parameter stability per parameter: the chosen values, their mean, std and
  coefficient of variation, and the mean absolute change between consecutive
  windows as a fraction of the parameter's range; `stability` averages
  1 - that change over numeric parameters and the share of the most common
  choice over the others (1 = the same parameters in every window).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtests.engine.backtest import run_backtest
from backtests.engine.config import BacktestConfig
from backtests.engine.optimizer import Optimizer
from backtests.engine.serialization import json_safe
from backtests.engine.statistics import equity_statistics
from trading.engine.market import Bars, timeframe_ms
from trading.engine.strategy import ParamSpace, Strategy


@dataclass(frozen=True)
class WalkForwardConfig:
    n_windows: int = 5
    train_test_ratio: float = 3.0
    anchored: bool = False

    def __post_init__(self) -> None:
        if self.n_windows < 1:
            raise ValueError("n_windows must be at least 1")
        if not self.train_test_ratio > 0:
            raise ValueError("train_test_ratio must be positive")


@dataclass(frozen=True)
class Window:
    index: int
    train: tuple[int, int]
    test: tuple[int, int]


def walk_forward_windows(start: int, end: int, config: WalkForwardConfig) -> list[Window]:
    """The train/test bar ranges of a walk-forward over [start, end)."""
    length = end - start
    test_len = int(length // (config.train_test_ratio + config.n_windows))
    train_len = int(config.train_test_ratio * test_len)
    if test_len < 2 or train_len < 2:
        raise ValueError(f"{length} bars are too few for {config.n_windows} windows "
                         f"at a {config.train_test_ratio:g}:1 train/test ratio")
    first_test = end - config.n_windows * test_len
    windows = []
    for i in range(config.n_windows):
        test_start = first_test + i * test_len
        train_start = start if (config.anchored or i == 0) else test_start - train_len
        windows.append(Window(i, (train_start, test_start), (test_start, test_start + test_len)))
    return windows


@dataclass(frozen=True, eq=False)
class WindowResult:
    window: Window
    params: Mapping[str, Any]
    train_figures: Mapping[str, float]
    test_figures: Mapping[str, float]
    test_timestamps: np.ndarray
    test_equity: np.ndarray


@dataclass(frozen=True, eq=False)
class WalkForwardResult:
    strategy: str
    config: WalkForwardConfig
    windows: tuple[WindowResult, ...]
    timestamps: np.ndarray  # stitched out-of-sample bars
    equity: np.ndarray  # stitched out-of-sample equity
    oos_figures: Mapping[str, float]
    efficiency: float
    parameter_stability: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "strategy": self.strategy,
            "config": self.config.__dict__,
            "windows": [
                {"index": w.window.index, "train": list(w.window.train),
                 "test": list(w.window.test), "params": dict(w.params),
                 "train_figures": dict(w.train_figures), "test_figures": dict(w.test_figures)}
                for w in self.windows
            ],
            "oos_equity": {"timestamps": self.timestamps, "equity": self.equity},
            "oos_figures": dict(self.oos_figures),
            "efficiency": self.efficiency,
            "parameter_stability": dict(self.parameter_stability),
        })


def parameter_stability(space: ParamSpace, chosen: list[Mapping[str, Any]]) -> dict[str, Any]:
    """How much the chosen parameters move from window to window (see module docstring)."""
    per_param: dict[str, Any] = {}
    scores = []
    for param in space:
        values = [c[param.name] for c in chosen]
        if param.kind in ("int", "float"):
            arr = np.asarray(values, dtype=np.float64)
            width = float(param.high - param.low) if param.high != param.low else 1.0  # type: ignore[operator]
            change = float(np.mean(np.abs(np.diff(arr)))) / width if len(arr) > 1 else 0.0
            mean = float(arr.mean())
            std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
            per_param[param.name] = {"values": values, "mean": mean, "std": std,
                                     "cv": std / abs(mean) if mean else float("nan"),
                                     "mean_abs_change": change}
            scores.append(1.0 - change)
        else:
            counts = {repr(v): values.count(v) for v in values}
            share = max(counts.values()) / len(values)
            per_param[param.name] = {"values": values, "mode_share": share}
            scores.append(share)
    return {"parameters": per_param, "stability": float(np.mean(scores)) if scores else 1.0}


def _stitch(results: list[WindowResult], initial: float) -> tuple[np.ndarray, np.ndarray]:
    pieces, times, capital = [], [], initial
    for r in results:
        curve = r.test_equity * (capital / initial)
        pieces.append(curve)
        times.append(r.test_timestamps)
        capital = float(curve[-1])
    return np.concatenate(times), np.concatenate(pieces)


def walk_forward(
    bars: Bars,
    strategy: Strategy,
    optimizer: Optimizer,
    config: BacktestConfig | None = None,
    wf_config: WalkForwardConfig | None = None,
    *,
    start: int = 0,
    end: int | None = None,
) -> WalkForwardResult:
    """Run a walk-forward analysis of `strategy` over bars [start, end)."""
    config = config or BacktestConfig()
    wf_config = wf_config or WalkForwardConfig()
    end = len(bars) if end is None else end
    results = []
    for window in walk_forward_windows(start, end, wf_config):
        found = optimizer.optimize(bars, strategy, config, start=window.train[0],
                                   end=window.train[1])
        test = run_backtest(bars, strategy, found.best_params, config,
                            start=window.test[0], end=window.test[1])
        test_figures = equity_statistics(test.equity, config.initial_cash,
                                         config.periods_per_year(bars.timeframe))
        test_figures["trades"] = float(test.stats["trades"]["trades"])
        results.append(WindowResult(window, found.best_params, found.best_figures,
                                    test_figures, test.timestamps, test.equity))
    timestamps, equity = _stitch(results, config.initial_cash)
    periods = config.periods_per_year(bars.timeframe)
    oos = equity_statistics(equity, config.initial_cash, periods,
                            bar_ms=timeframe_ms(config.timeframe_for(bars.timeframe)))
    train_annual = float(np.mean([r.train_figures.get("annualized_return", np.nan)
                                  for r in results]))
    efficiency = oos["annualized_return"] / train_annual if train_annual > 0 else float("nan")
    return WalkForwardResult(
        strategy=strategy.name,
        config=wf_config,
        windows=tuple(results),
        timestamps=timestamps,
        equity=equity,
        oos_figures=oos,
        efficiency=efficiency,
        parameter_stability=parameter_stability(strategy.param_space,
                                                [r.params for r in results]),
    )
