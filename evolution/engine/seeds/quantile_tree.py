"""Machine-learning seed: PCA -> decision tree -> quantile regression (entry).

Guarantees: as for every ML seed, predictions at bar t come from models trained
only on rows whose label horizon ended before the model's first predicted bar
(`walk_forward`), and fitting is deterministic.

Why the quantile stage is a quantile regression tree (conditional quantiles of
the training labels within each tree leaf, Meinshausen's quantile regression
forest with one tree) rather than sklearn's linear `QuantileRegressor`: the
latter solves a linear programme that takes 50-110 ms per fit and quantile on
1-2k rows, i.e. seconds per genome evaluation, too slow for a GA; leaf
quantiles take well under a millisecond and model non-linear regimes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from evolution.engine.seeds.classifier import WALK_FORWARD_PARAMS, refit_plan
from evolution.engine.seeds.ml_features import forward_log_return, market_features
from evolution.engine.seeds.seed import ALLOW_SHORT, Seed
from evolution.engine.seeds.walk_forward import rowwise_dot, walk_forward_predict
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals


class PcaTreeQuantile(Seed):
    """PCA -> decision tree -> quantile regression: trade when the odds are skewed.

    The ten causal market features of the classifier seed are standardised and
    compressed by PCA to the components explaining `pca_variance` of their
    variance (optionally whitened). A decision tree (depth `max_depth`, at least
    `min_samples_leaf` rows per leaf) partitions that space into market regimes
    by the forward log return over `horizon` bars; within each regime the
    training returns give the lower (`tail_quantile`), median and upper
    (1 - `tail_quantile`) quantiles of what happens next. Models are retrained
    every `refit_every` bars on the last `train_window` bars whose outcome is
    known, never on the bars they predict. Go long while the predicted median
    return exceeds `min_edge` and the upside (upper quantile) outweighs the
    downside (|lower quantile|); close when the median turns negative. With
    `allow_short`, the mirror image shorts a negative median with a heavier
    downside and covers when the median turns positive.
    """

    name = "pca_tree_quantile"
    title = "PCA -> decision tree -> quantile regression"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace(
        (
            Param("pca_variance", "float", 0.9, 0.8, 0.99, description="Variance PCA keeps."),
            Param("whiten", "bool", False, description="Scale components to unit variance."),
            Param("max_depth", "int", 4, 2, 8, description="Tree depth."),
            Param("min_samples_leaf", "int", 100, 20, 400, log=True, description="Rows per leaf."),
            Param(
                "tail_quantile",
                "categorical",
                0.25,
                choices=(0.05, 0.1, 0.25),
                description="Lower quantile (the upper one is 1 minus it).",
            ),
            Param(
                "min_edge",
                "float",
                0.0,
                0.0,
                0.01,
                description="Median forward log return a trade needs.",
            ),
            *WALK_FORWARD_PARAMS,
            ALLOW_SHORT,
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        features = market_features(bars)
        labels = forward_log_return(bars.close, params["horizon"])

        def fit_predict(x: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> np.ndarray:
            return leaf_quantiles(x, y, x_new, params)

        predicted = walk_forward_predict(features, labels, refit_plan(params), fit_predict, 3)
        lower, median, upper = predicted.T
        edge = params["min_edge"]
        entries = (median > edge) & (upper > -lower)
        exits = median < 0
        extras = {"quantile_low": lower, "quantile_mid": median, "quantile_high": upper}
        if not params["allow_short"]:
            return Signals(entries=entries, exits=exits, extras=extras)
        return Signals(
            entries=entries,
            exits=exits,
            short_entries=(median < -edge) & (-lower > upper),
            short_exits=median > 0,
            extras=extras,
        )


def leaf_quantiles(
    x: np.ndarray, y: np.ndarray, x_new: np.ndarray, params: dict[str, Any]
) -> np.ndarray:
    """Columns: lower, median and upper conditional quantile of `y` for each row of `x_new`."""
    scaler = StandardScaler().fit(x)
    pca = PCA(n_components=params["pca_variance"], whiten=params["whiten"], svd_solver="full")
    pca.fit(scaler.transform(x))

    def project(rows: np.ndarray) -> np.ndarray:
        projected = rowwise_dot(scaler.transform(rows) - pca.mean_, pca.components_)
        return projected / np.sqrt(pca.explained_variance_) if params["whiten"] else projected

    components = project(x)
    tree = DecisionTreeRegressor(
        max_depth=params["max_depth"],
        min_samples_leaf=params["min_samples_leaf"],
        random_state=0,
    ).fit(components, y)
    tail = float(params["tail_quantile"])
    levels = np.array([tail, 0.5, 1.0 - tail])
    train_leaves = tree.apply(components)
    by_node = np.full((tree.tree_.node_count, len(levels)), np.nan)
    for leaf in np.unique(train_leaves):
        by_node[leaf] = np.quantile(y[train_leaves == leaf], levels)
    return by_node[tree.apply(project(x_new))]
