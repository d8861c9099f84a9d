"""Monte Carlo resampling of a backtest's trade sequence.

Guarantees: paths are drawn by bootstrapping (sampling with replacement) the
per-trade returns on equity, or by shuffling them (`method="shuffle"`, a
permutation per path: same final return, different drawdowns); the draw is
vectorised and fully determined by `seed`. Each path compounds its trades from
an equity of 1. Reported: median final return and the 5/95% band, the
probability of ending below the start, the mean and the 95th percentile of the
maximum drawdown (as positive fractions, the start counting as a peak), and
fan-chart paths (equity percentiles after each trade, sampled at no more than
`fan_points` + 1 trade counts). Memory stays bounded: paths are simulated in
chunks. Trade returns must be > -1 (a trade cannot lose more than the equity
it was measured against).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from backtests.engine.serialization import json_safe

FAN_PERCENTILES: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)
CHUNK_ELEMENTS = 1 << 21  # paths x trades held in memory at once


@dataclass(frozen=True, eq=False)
class MonteCarloResult:
    n_paths: int
    n_trades: int
    method: str
    seed: int
    median_return: float
    return_p5: float
    return_p95: float
    probability_of_loss: float
    expected_max_drawdown: float
    max_drawdown_p95: float
    fan_percentiles: tuple[float, ...]
    fan_steps: np.ndarray  # trade counts the fan is sampled at (0 .. n_trades)
    fan: np.ndarray  # (len(fan_percentiles), len(fan_steps)) equity multiples, starting at 1
    final_returns: np.ndarray  # (n_paths,)
    max_drawdowns: np.ndarray  # (n_paths,), positive fractions

    def to_dict(self, *, include_paths: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_paths": self.n_paths,
            "n_trades": self.n_trades,
            "method": self.method,
            "seed": self.seed,
            "median_return": self.median_return,
            "return_p5": self.return_p5,
            "return_p95": self.return_p95,
            "probability_of_loss": self.probability_of_loss,
            "expected_max_drawdown": self.expected_max_drawdown,
            "max_drawdown_p95": self.max_drawdown_p95,
            "fan_steps": self.fan_steps,
            "fan": {f"p{p:g}": row for p, row in zip(self.fan_percentiles, self.fan, strict=True)},
        }
        if include_paths:
            out["final_returns"] = self.final_returns
            out["max_drawdowns"] = self.max_drawdowns
        return json_safe(out)


def _draw(log_returns: np.ndarray, n_paths: int, n_trades: int, method: str,
          rng: np.random.Generator) -> np.ndarray:
    if method == "bootstrap":
        return log_returns[rng.integers(0, len(log_returns), size=(n_paths, n_trades))]
    if method == "shuffle":
        return rng.permuted(np.broadcast_to(log_returns, (n_paths, n_trades)), axis=1)
    raise ValueError(f"unknown method {method!r}; expected 'bootstrap' or 'shuffle'")


def fan_steps(n_trades: int, points: int) -> np.ndarray:
    """Trade counts (0..n_trades) at which the fan chart is sampled: all, or `points` + 1."""
    if n_trades <= points:
        return np.arange(n_trades + 1)
    return np.unique(np.linspace(0, n_trades, points + 1).round().astype(np.int64))


def _paths(log_returns: np.ndarray, n_paths: int, n_trades: int, method: str, seed: int,
           steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(final log equity, max drawdown, log equity at `steps`) per path, paths in chunks."""
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_ELEMENTS // max(n_trades, 1))
    final = np.empty(n_paths)
    drawdown = np.empty(n_paths)
    sampled = np.empty((n_paths, len(steps)))
    for first in range(0, n_paths, chunk):
        rows = slice(first, min(first + chunk, n_paths))
        count = rows.stop - first
        log_equity = np.zeros((count, n_trades + 1))
        np.cumsum(_draw(log_returns, count, n_trades, method, rng), axis=1,
                  out=log_equity[:, 1:])
        gap = np.maximum.accumulate(log_equity, axis=1) - log_equity
        drawdown[rows] = -np.expm1(-gap.max(axis=1))
        final[rows] = log_equity[:, -1]
        sampled[rows] = log_equity[:, steps]
    return final, drawdown, sampled


def monte_carlo(
    trade_returns: Sequence[float] | np.ndarray,
    *,
    n_paths: int = 10_000,
    n_trades: int | None = None,
    seed: int = 0,
    method: Literal["bootstrap", "shuffle"] = "bootstrap",
    fan_percentiles: Sequence[float] = FAN_PERCENTILES,
    fan_points: int = 200,
) -> MonteCarloResult:
    """Resample `trade_returns` (P&L over equity before each trade) into `n_paths` paths."""
    returns = np.asarray(trade_returns, dtype=np.float64)
    if returns.ndim != 1 or len(returns) == 0:
        raise ValueError("monte_carlo needs a non-empty 1-D sequence of trade returns")
    if not np.all(np.isfinite(returns)) or np.any(returns <= -1.0):
        raise ValueError("trade returns must be finite and > -1")
    if n_paths < 1:
        raise ValueError("n_paths must be positive")
    n_trades = len(returns) if n_trades is None else n_trades
    if method == "shuffle" and n_trades != len(returns):
        raise ValueError("shuffle resamples the whole sequence: n_trades must equal its length")
    steps = fan_steps(n_trades, fan_points)
    final_log, max_drawdowns, sampled = _paths(np.log1p(returns), n_paths, n_trades, method,
                                               seed, steps)
    final = np.expm1(final_log)
    percentiles = tuple(float(p) for p in fan_percentiles)
    fan = np.exp(np.percentile(sampled, percentiles, axis=0))
    return MonteCarloResult(
        n_paths=n_paths,
        n_trades=n_trades,
        method=method,
        seed=seed,
        median_return=float(np.median(final)),
        return_p5=float(np.percentile(final, 5)),
        return_p95=float(np.percentile(final, 95)),
        probability_of_loss=float(np.mean(final < 0)),
        expected_max_drawdown=float(np.mean(max_drawdowns)),
        max_drawdown_p95=float(np.percentile(max_drawdowns, 95)),
        fan_percentiles=percentiles,
        fan_steps=steps,
        fan=fan,
        final_returns=final,
        max_drawdowns=max_drawdowns,
    )
