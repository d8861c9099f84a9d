"""Walk-forward training for the machine-learning seeds: past data only.

Guarantees:
- models are refitted every `refit_every` bars at refit bars T0, T0 + K, ...
  where T0 = first usable feature row + `min_train` + `horizon`: the schedule
  depends on the parameters and the feature warm-up only, never on how many
  bars follow, so truncating the data cannot move a refit;
- the model used for bars [T, T + K) is trained on rows i with
  i + horizon < T: the label of every training row (its forward return over
  `horizon` bars) was complete before the first bar the model predicts;
- a training set without both outcomes, or too small, gives no predictions
  (NaN) for its segment rather than a guess;
- fits run with BLAS/OpenMP limited to one thread: the models are small, and
  on a shared machine (or in parallel GA workers) extra BLAS threads spin and
  slow a fit down by an order of magnitude;
- `rowwise_dot` gives each row's projection bit-for-bit independent of the
  other rows in the batch (a BLAS matrix product is not: its blocking depends
  on the batch size), so a bar's prediction cannot change when later bars join.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

# (train features, train labels, features to predict) -> (n_predict, n_outputs)
FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray | None]


@dataclass(frozen=True)
class RefitPlan:
    """When to refit and how much history to learn from (all counts in bars)."""

    horizon: int
    train_window: int
    refit_every: int
    min_train: int = 200

    def __post_init__(self) -> None:
        if min(self.horizon, self.train_window, self.refit_every, self.min_train) < 1:
            raise ValueError("horizon, train_window, refit_every and min_train must be >= 1")

    def first_refit(self, first_usable_row: int) -> int:
        """The first refit bar: enough labelled rows have completed before it."""
        return first_usable_row + self.min_train + self.horizon

    def refit_bars(self, first_usable_row: int, n_bars: int) -> range:
        """Every refit bar before `n_bars`."""
        return range(self.first_refit(first_usable_row), n_bars, self.refit_every)

    def training_rows(self, refit_bar: int, first_usable_row: int) -> range:
        """Rows whose label horizon ended before `refit_bar`, at most `train_window` of them."""
        stop = refit_bar - self.horizon  # row stop-1 has its label complete at bar refit_bar-1
        start = max(first_usable_row, stop - self.train_window)
        return range(start, max(start, stop))


def first_usable_row(features: np.ndarray) -> int:
    """The first row whose features are all finite (the indicators' warm-up); n if none."""
    usable = np.flatnonzero(np.isfinite(features).all(axis=1))
    return int(usable[0]) if len(usable) else len(features)


def walk_forward_predict(
    features: np.ndarray,
    labels: np.ndarray,
    plan: RefitPlan,
    fit_predict: FitPredict,
    n_outputs: int,
) -> np.ndarray:
    """Out-of-sample predictions (n_bars, n_outputs); NaN where no model could speak.

    `labels[i]` may look ahead up to `plan.horizon` bars; `fit_predict` only ever
    sees labels of rows listed by `plan.training_rows`.
    """
    n = len(features)
    out = np.full((n, n_outputs), np.nan)
    with thread_controller().limit(limits=1):
        for segment, train in _segments(features, labels, plan):
            predicted = fit_predict(features[train], labels[train], features[segment])
            if predicted is not None:
                out[segment] = predicted
    return out


def _segments(
    features: np.ndarray, labels: np.ndarray, plan: RefitPlan
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows to predict, training rows) of every refit with enough data."""
    n = len(features)
    row_ok = np.isfinite(features).all(axis=1)
    first = first_usable_row(features)
    segments = []
    for refit_bar in plan.refit_bars(first, n):
        rows = plan.training_rows(refit_bar, first)
        train = np.arange(rows.start, rows.stop)
        train = train[row_ok[train] & np.isfinite(labels[train])]
        if len(train) < plan.min_train:
            continue
        segment = np.arange(refit_bar, min(refit_bar + plan.refit_every, n))
        segment = segment[row_ok[segment]]
        if len(segment) > 0:
            segments.append((segment, train))
    return segments


@functools.cache
def thread_controller() -> ThreadpoolController:
    """The native thread pools (BLAS, OpenMP) loaded by numpy, scipy and sklearn."""
    return ThreadpoolController()


def rowwise_dot(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """x @ weights.T, each output row computed from its own input row only.

    `weights` is (n_outputs, n_features) or (n_features,) for a single output.
    """
    w = np.atleast_2d(weights)
    out = (x[:, None, :] * w[None, :, :]).sum(axis=2)
    return out[:, 0] if np.ndim(weights) == 1 else out
