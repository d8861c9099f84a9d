"""Statistics that discount a backtest for the search that found it.

Guarantees:
- `deflated_sharpe_ratio` is Bailey & López de Prado (2014): the probability
  that the true Sharpe ratio exceeds the Sharpe ratio expected from the best
  of `n_trials` unskilled trials, SR0 = sqrt(V) * ((1 - g) * Z^-1(1 - 1/N)
  + g * Z^-1(1 - 1/(N e))) (g = Euler-Mascheroni), corrected for the
  skewness and kurtosis of the returns:
  DSR = Z((SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2)).
  All Sharpe ratios here are per period (not annualised); V is the variance of
  the trials' per-period Sharpe ratios. With one trial SR0 = 0 and the DSR is
  the probabilistic Sharpe ratio against 0.
- `probability_of_backtest_overfitting` is CSCV (Bailey, Borwein, López de
  Prado, Zhu 2017) over a T x N matrix of trial returns: the rows are cut into
  S equal blocks (the earliest T mod S rows dropped), every half of the blocks
  is in-sample once with the rest out-of-sample; the trial with the best
  in-sample Sharpe is ranked out-of-sample (average rank for ties),
  w = rank / (N + 1), logit = ln(w / (1 - w)); PBO is the share of
  combinations with logit <= 0 (the in-sample winner no better than the
  out-of-sample median).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from backtests.engine.serialization import json_safe

EULER_GAMMA = 0.5772156649015329


def per_period_sharpe(returns: np.ndarray) -> np.ndarray | float:
    """mean / std (ddof=1) along the first axis; NaN where the std is 0."""
    returns = np.asarray(returns, dtype=np.float64)
    std = returns.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(std > 0, returns.mean(axis=0) / std, np.nan)
    return float(sharpe) if sharpe.ndim == 0 else sharpe


def expected_max_sharpe(n_trials: int, trial_sharpe_variance: float) -> float:
    """SR0: the best per-period Sharpe expected from `n_trials` skill-less trials."""
    if n_trials < 1:
        raise ValueError("n_trials must be at least 1")
    if n_trials == 1:
        return 0.0
    z = scipy_stats.norm.ppf
    spread = (1 - EULER_GAMMA) * z(1 - 1 / n_trials) + EULER_GAMMA * z(1 - 1 / (n_trials * math.e))
    return float(math.sqrt(trial_sharpe_variance) * spread)


def _sharpe_z(returns: np.ndarray, sharpe: float, benchmark: float) -> tuple[float, float, float]:
    skew = float(scipy_stats.skew(returns))
    kurt = float(scipy_stats.kurtosis(returns, fisher=False))
    scale = 1 - skew * sharpe + (kurt - 1) / 4 * sharpe**2
    z = (sharpe - benchmark) * math.sqrt(len(returns) - 1) / math.sqrt(max(scale, 1e-12))
    return z, skew, kurt


def probabilistic_sharpe_ratio(returns: np.ndarray, benchmark_sharpe: float = 0.0) -> float:
    """P(true per-period Sharpe > benchmark_sharpe) given these returns."""
    returns = np.asarray(returns, dtype=np.float64)
    z, _, _ = _sharpe_z(returns, float(per_period_sharpe(returns)), benchmark_sharpe)
    return float(scipy_stats.norm.cdf(z))


@dataclass(frozen=True)
class DeflatedSharpe:
    sharpe: float
    expected_max_sharpe: float
    deflated_sharpe: float  # probability in [0, 1]
    probabilistic_sharpe: float  # against 0, no deflation
    n_trials: int
    trial_sharpe_variance: float
    n_observations: int
    skewness: float
    kurtosis: float

    def to_dict(self) -> dict[str, Any]:
        return json_safe(self.__dict__)


def deflated_sharpe_ratio(
    returns: np.ndarray, *, n_trials: int, trial_sharpe_variance: float
) -> DeflatedSharpe:
    """The DSR of the selected strategy's `returns` after `n_trials` trials."""
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 1 or len(returns) < 3:
        raise ValueError("deflated_sharpe_ratio needs at least 3 returns")
    sharpe = float(per_period_sharpe(returns))
    sr0 = expected_max_sharpe(n_trials, trial_sharpe_variance)
    z, skew, kurt = _sharpe_z(returns, sharpe, sr0)
    z0, _, _ = _sharpe_z(returns, sharpe, 0.0)
    return DeflatedSharpe(
        sharpe=sharpe,
        expected_max_sharpe=sr0,
        deflated_sharpe=float(scipy_stats.norm.cdf(z)),
        probabilistic_sharpe=float(scipy_stats.norm.cdf(z0)),
        n_trials=n_trials,
        trial_sharpe_variance=float(trial_sharpe_variance),
        n_observations=len(returns),
        skewness=skew,
        kurtosis=kurt,
    )


def deflated_sharpe_from_trials(trial_returns: np.ndarray, selected: int | None = None,
                                ) -> DeflatedSharpe:
    """DSR of trial `selected` (default: the best Sharpe) of a T x N trial matrix."""
    matrix = np.asarray(trial_returns, dtype=np.float64)
    sharpes = np.asarray(per_period_sharpe(matrix))
    valid = ~np.isnan(sharpes)
    if not valid.any():
        raise ValueError("no trial has a defined Sharpe ratio")
    if selected is None:
        selected = int(np.nanargmax(sharpes))
    variance = float(np.var(sharpes[valid], ddof=1)) if valid.sum() > 1 else 0.0
    return deflated_sharpe_ratio(
        matrix[:, selected], n_trials=matrix.shape[1], trial_sharpe_variance=variance
    )


@dataclass(frozen=True, eq=False)
class PBOResult:
    pbo: float
    n_splits: int
    n_combinations: int
    logits: np.ndarray
    in_sample_sharpe: np.ndarray  # per combination, of the in-sample winner
    out_of_sample_sharpe: np.ndarray  # per combination, of that same trial
    degradation_slope: float  # OOS Sharpe regressed on IS Sharpe
    probability_oos_loss: float

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "pbo": self.pbo, "n_splits": self.n_splits, "n_combinations": self.n_combinations,
            "degradation_slope": self.degradation_slope,
            "probability_oos_loss": self.probability_oos_loss,
            "logits": self.logits,
        })


def _block_sharpes(sums: np.ndarray, squares: np.ndarray, counts: np.ndarray) -> np.ndarray:
    mean = sums / counts[:, None]
    var = (squares - sums * mean) / (counts[:, None] - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 0, mean / np.sqrt(np.maximum(var, 0)), np.nan)


def probability_of_backtest_overfitting(trial_returns: np.ndarray, n_splits: int = 16,
                                        ) -> PBOResult:
    """PBO by combinatorially symmetric cross-validation over a T x N return matrix."""
    matrix = np.asarray(trial_returns, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] < 2:
        raise ValueError("PBO needs a T x N matrix with at least 2 trials")
    if n_splits < 2 or n_splits % 2:
        raise ValueError("n_splits must be an even number >= 2")
    block = matrix.shape[0] // n_splits
    if block < 2:
        raise ValueError(f"{matrix.shape[0]} rows are too few for {n_splits} splits")
    blocks = matrix[matrix.shape[0] - block * n_splits:].reshape(n_splits, block, -1)
    sums, squares = blocks.sum(axis=1), (blocks * blocks).sum(axis=1)
    combos = np.array(list(itertools.combinations(range(n_splits), n_splits // 2)))
    membership = np.zeros((len(combos), n_splits))
    np.put_along_axis(membership, combos, 1.0, axis=1)
    counts = np.full(len(combos), block * n_splits // 2, dtype=np.float64)
    is_sharpe = _block_sharpes(membership @ sums, membership @ squares, counts)
    oos_sharpe = _block_sharpes((1 - membership) @ sums, (1 - membership) @ squares, counts)
    is_sharpe = np.where(np.isnan(is_sharpe), -np.inf, is_sharpe)
    oos_sharpe = np.where(np.isnan(oos_sharpe), -np.inf, oos_sharpe)
    best = np.argmax(is_sharpe, axis=1)
    rows = np.arange(len(combos))
    chosen_oos = oos_sharpe[rows, best]
    below = (oos_sharpe < chosen_oos[:, None]).sum(axis=1)
    ties = (oos_sharpe == chosen_oos[:, None]).sum(axis=1)
    omega = (below + (ties + 1) / 2) / (matrix.shape[1] + 1)
    logits = np.log(omega / (1 - omega))
    chosen_is = is_sharpe[rows, best]
    finite = np.isfinite(chosen_is) & np.isfinite(chosen_oos)
    slope = (float(np.polyfit(chosen_is[finite], chosen_oos[finite], 1)[0])
             if finite.sum() > 2 and np.ptp(chosen_is[finite]) > 0 else math.nan)
    return PBOResult(
        pbo=float(np.mean(logits <= 0)),
        n_splits=n_splits,
        n_combinations=len(combos),
        logits=logits,
        in_sample_sharpe=chosen_is,
        out_of_sample_sharpe=chosen_oos,
        degradation_slope=slope,
        probability_oos_loss=float(np.mean(chosen_oos < 0)),
    )
