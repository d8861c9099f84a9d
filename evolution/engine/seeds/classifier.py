"""Machine-learning seed: LinearSVC direction classifier (entry).

Guarantees: every prediction at bar t comes from a model trained on rows whose
forward-return label was complete before the model's first predicted bar
(`walk_forward`); features read bars 0..t only; fitting is deterministic, so
the same bars and parameters always give the same signals.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from evolution.engine.seeds.ml_features import forward_log_return, market_features
from evolution.engine.seeds.seed import ALLOW_SHORT, Seed
from evolution.engine.seeds.walk_forward import RefitPlan, rowwise_dot, walk_forward_predict
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals

WALK_FORWARD_PARAMS: tuple[Param, ...] = (
    Param("horizon", "int", 6, 1, 48, log=True, description="Bars ahead the label looks."),
    Param("train_window", "int", 2000, 500, 3000, log=True, description="Training rows (bars)."),
    Param("refit_every", "int", 500, 200, 1000, log=True, description="Bars between refits."),
)


def refit_plan(params: dict[str, Any]) -> RefitPlan:
    """The walk-forward schedule named by a seed's validated parameters."""
    return RefitPlan(
        horizon=params["horizon"],
        train_window=params["train_window"],
        refit_every=params["refit_every"],
    )


class LinearSvcClassifier(Seed):
    """LinearSVC classifier: learn from recent history whether price rises next.

    Ten causal features per bar (returns over 1/4/24 bars, RSI, z-score, ATR,
    volatility ratio, volume ratio, EMA spread, position in the 24-bar range)
    are standardised and fed to a linear support-vector classifier that
    predicts whether the close `horizon` bars ahead is higher. The model is
    retrained every `refit_every` bars on the last `train_window` bars whose
    outcome is already known, never on the bars it predicts. Go long while the
    decision value is positive and above the `confidence` quantile of the
    training-set decision values; close the long when it turns negative. With
    `allow_short`, short while it is negative and below the (1 - `confidence`)
    quantile, cover when it turns positive. Loss is squared hinge, solved in the
    primal (both L1 and L2 penalties supported).
    """

    name = "linear_svc_classifier"
    title = "LinearSVC classifier"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace(
        (
            Param("C", "float", 0.1, 0.001, 100.0, log=True, description="Inverse regularisation."),
            Param("penalty", "categorical", "l2", choices=("l1", "l2")),
            Param("class_weight", "categorical", "none", choices=("none", "balanced")),
            Param(
                "confidence",
                "float",
                0.6,
                0.5,
                0.95,
                description="Training-decision quantile a long signal must exceed.",
            ),
            *WALK_FORWARD_PARAMS,
            ALLOW_SHORT,
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        features = market_features(bars)
        labels = forward_log_return(bars.close, params["horizon"])

        def fit_predict(x: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> np.ndarray | None:
            return svc_decisions(x, y, x_new, params)

        predicted = walk_forward_predict(features, labels, refit_plan(params), fit_predict, 3)
        decision, long_level, short_level = predicted.T
        entries = (decision > 0) & (decision > long_level)
        exits = decision < 0
        extras = {"decision": decision}
        if not params["allow_short"]:
            return Signals(entries=entries, exits=exits, extras=extras)
        return Signals(
            entries=entries,
            exits=exits,
            short_entries=(decision < 0) & (decision < short_level),
            short_exits=decision > 0,
            extras=extras,
        )


def svc_decisions(
    x: np.ndarray, y: np.ndarray, x_new: np.ndarray, params: dict[str, Any]
) -> np.ndarray | None:
    """Columns: decision value, long threshold, short threshold; None without both classes."""
    rising = y > 0
    if rising.all() or not rising.any():
        return None
    scaler = StandardScaler().fit(x)
    model = LinearSVC(
        C=params["C"],
        penalty=params["penalty"],
        loss="squared_hinge",
        dual=False,
        class_weight="balanced" if params["class_weight"] == "balanced" else None,
        max_iter=2000,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(scaler.transform(x), rising)
    weights, intercept = model.coef_[0], float(model.intercept_[0])
    in_sample = rowwise_dot(scaler.transform(x), weights) + intercept
    levels = np.quantile(in_sample, [params["confidence"], 1.0 - params["confidence"]])
    decision = rowwise_dot(scaler.transform(x_new), weights) + intercept
    return np.column_stack(
        (decision, np.full(len(decision), levels[0]), np.full(len(decision), levels[1]))
    )
