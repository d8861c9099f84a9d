"""The machine-learning seeds: walk-forward discipline, learning, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from evolution.engine.seeds import get_seed
from evolution.engine.seeds.ml_features import (
    FEATURE_NAMES,
    forward_log_return,
    market_features,
)
from evolution.engine.seeds.walk_forward import RefitPlan, first_usable_row, walk_forward_predict
from tests.evolution.engine.seed_fixtures import bars_from_closes

ML_SEEDS = ("linear_svc_classifier", "pca_tree_quantile")


def cyclical_bars(n: int = 3000, seed: int = 1):
    """A market that swings on a 48-bar cycle with noise: its next move is predictable."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    close = 100.0 * np.exp(0.03 * np.sin(2 * np.pi * t / 48) + rng.normal(0, 0.002, n))
    return bars_from_closes(close, spread=0.001, volume=rng.uniform(50, 150, n))


@pytest.mark.parametrize("horizon", [1, 6, 48])
def test_training_labels_end_before_the_first_predicted_bar(horizon):
    # given
    plan = RefitPlan(horizon=horizon, train_window=500, refit_every=97, min_train=50)

    for refit_bar in plan.refit_bars(first_usable_row=30, n_bars=3000):
        # when
        rows = plan.training_rows(refit_bar, first_usable_row=30)
        # then: the last training row's label (close at row + horizon) is known before the bar
        assert rows.stop - 1 + horizon < refit_bar
        assert rows.start >= 30 and len(rows) <= 500


def test_the_refit_schedule_does_not_depend_on_how_much_data_follows():
    # given
    plan = RefitPlan(horizon=6, train_window=800, refit_every=250)

    # when
    short = list(plan.refit_bars(170, 2000))
    long = list(plan.refit_bars(170, 9000))

    # then
    assert short == long[: len(short)]
    assert short[0] == 170 + 200 + 6


def test_walk_forward_never_shows_a_model_the_bars_it_predicts():
    # given: column 0 of the features is the row number, so fits can report what they saw
    n, horizon = 2000, 12
    features = np.column_stack((np.arange(n, dtype=float), np.ones(n)))
    labels = forward_log_return(np.linspace(100, 120, n), horizon)
    plan = RefitPlan(horizon=horizon, train_window=600, refit_every=150, min_train=100)
    seen: list[tuple[float, float]] = []

    def fit_predict(x, y, x_new):
        seen.append((x[:, 0].max(), x_new[:, 0].min()))
        return np.zeros((len(x_new), 1))

    # when
    predicted = walk_forward_predict(features, labels, plan, fit_predict, 1)

    # then
    assert len(seen) == len(plan.refit_bars(0, n))
    assert all(last_trained + horizon < first_predicted for last_trained, first_predicted in seen)
    assert np.isnan(predicted[: 100 + horizon]).all() and not np.isnan(predicted[-1]).any()


def test_features_are_causal_and_cached_per_bars_object():
    # given
    bars = cyclical_bars(1000)

    # when
    first, again = market_features(bars), market_features(bars)
    prefix = market_features(bars.slice(0, 600))

    # then
    assert first is again and not first.flags.writeable
    assert first.shape == (1000, len(FEATURE_NAMES))
    assert np.array_equal(first[:600], prefix, equal_nan=True)
    assert first_usable_row(first) < 200


@pytest.mark.parametrize("name", ML_SEEDS)
def test_ml_seed_learns_a_predictable_cycle(name):
    # given
    bars = cyclical_bars()
    future = forward_log_return(bars.close, 6)

    # when
    signals = get_seed(name).signals(bars, {"allow_short": True, "horizon": 6})

    # then: it trades, and its longs precede rises and its shorts precede falls
    assert signals.short_entries is not None
    assert signals.entries.sum() > 100 and signals.short_entries.sum() > 100
    assert np.nanmean(future[signals.entries]) > 0.005
    assert np.nanmean(future[signals.short_entries]) < -0.005
    assert not signals.entries[: 170 + 200].any()  # nothing before the first model


@pytest.mark.parametrize("name", ML_SEEDS)
def test_ml_seed_is_deterministic(name):
    # given
    bars = cyclical_bars(2000)

    # when
    first = get_seed(name).signals(bars, {"allow_short": True})
    second = get_seed(name).signals(cyclical_bars(2000), {"allow_short": True})

    # then
    assert np.array_equal(first.entries, second.entries)
    assert first.short_entries is not None and second.short_entries is not None
    assert np.array_equal(first.short_entries, second.short_entries)


def test_classifier_has_no_opinion_when_history_only_ever_rose():
    # given: a steady climb, so every training label is "up" and there is nothing to separate
    rng = np.random.default_rng(2)
    close = 100.0 * np.exp(np.cumsum(0.002 + rng.normal(0, 0.0002, 1500)))
    bars = bars_from_closes(close, spread=0.001, volume=rng.uniform(50, 150, 1500))

    # when
    signals = get_seed("linear_svc_classifier").signals(bars, {"horizon": 6})

    # then
    assert not signals.entries.any()
    assert np.isnan(signals.extras["decision"]).all()


def test_quantile_tree_reports_ordered_quantiles():
    # given
    bars = cyclical_bars(2000)

    # when
    extras = get_seed("pca_tree_quantile").signals(bars, {"tail_quantile": 0.1}).extras

    # then
    low, mid, high = extras["quantile_low"], extras["quantile_mid"], extras["quantile_high"]
    known = np.isfinite(mid)
    assert known.sum() > 1000
    assert (low[known] <= mid[known]).all() and (mid[known] <= high[known]).all()
