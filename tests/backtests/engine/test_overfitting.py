"""Deflated Sharpe and PBO on synthetic trials whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.engine.overfitting import (
    deflated_sharpe_from_trials,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    per_period_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)

T, N = 1_000, 200


def noise(seed: int, n_trials: int = N) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.01, size=(T, n_trials))


def test_the_expected_maximum_sharpe_matches_simulated_maxima():
    # given the Sharpe ratios of N skill-less trials have variance 1 (standard normal)
    draws = np.random.default_rng(0).standard_normal((20_000, 100)).max(axis=1)
    # then SR0 is close to the simulated mean maximum (Bailey's approximation is within 2%)
    assert expected_max_sharpe(100, 1.0) == pytest.approx(draws.mean(), rel=0.02)
    assert expected_max_sharpe(1, 1.0) == 0.0


def test_noise_trials_overfit_half_the_time():
    # given 200 strategies that are pure noise
    result = probability_of_backtest_overfitting(noise(1), n_splits=16)
    # then the in-sample winner is no better than the median out-of-sample about half the time
    assert result.n_combinations == 12_870
    assert 0.35 < result.pbo < 0.65
    assert result.to_dict()["pbo"] == result.pbo


def test_a_real_edge_is_not_overfit():
    # given the same noise plus one strategy with a true positive drift
    trials = noise(2)
    trials[:, 17] += 0.002
    # when cross-validated
    result = probability_of_backtest_overfitting(trials, n_splits=16)
    # then the in-sample winner is also the out-of-sample winner
    assert result.pbo < 0.05
    assert result.probability_oos_loss < 0.05


def test_the_best_noise_trial_looks_significant_until_deflated():
    # given the best of 200 noise trials
    best = deflated_sharpe_from_trials(noise(3))
    # then its naive probabilistic Sharpe claims skill, the deflated one does not,
    # and its Sharpe is no more than what 200 trials are expected to produce by luck
    assert best.probabilistic_sharpe > 0.95
    assert best.deflated_sharpe < 0.95
    assert best.sharpe - best.expected_max_sharpe < 0.05
    # and a typical noise trial has a deflated Sharpe near zero
    trials = noise(3)
    sharpes = np.asarray(per_period_sharpe(trials))
    typical = int(np.argsort(sharpes)[N // 2])
    assert deflated_sharpe_from_trials(trials, selected=typical).deflated_sharpe < 0.01


def test_the_deflated_sharpe_of_best_noise_is_a_coin_flip_on_average():
    values = [deflated_sharpe_from_trials(noise(seed, 100)).deflated_sharpe for seed in range(12)]
    assert 0.2 < float(np.mean(values)) < 0.8


def test_a_real_edge_survives_deflation():
    trials = noise(4)
    trials[:, 5] += 0.002
    result = deflated_sharpe_from_trials(trials)
    assert result.n_trials == N
    assert result.deflated_sharpe > 0.95
    assert result.sharpe > result.expected_max_sharpe


def test_with_one_trial_the_deflated_sharpe_is_the_probabilistic_sharpe():
    returns = np.random.default_rng(5).normal(0.0005, 0.01, T)
    single = deflated_sharpe_ratio(returns, n_trials=1, trial_sharpe_variance=0.0)
    assert single.deflated_sharpe == pytest.approx(probabilistic_sharpe_ratio(returns))
    assert single.deflated_sharpe == pytest.approx(single.probabilistic_sharpe)


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError, match="even"):
        probability_of_backtest_overfitting(noise(6, 4), n_splits=5)
    with pytest.raises(ValueError, match="too few"):
        probability_of_backtest_overfitting(noise(6, 4)[:20], n_splits=16)
    with pytest.raises(ValueError, match="2 trials"):
        probability_of_backtest_overfitting(noise(6, 1))
