"""The objectives and the combined score, on hand-made return series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evolution.engine.objectives import (
    WORST,
    AssetOutcome,
    Objectives,
    consistency,
    max_drawdown,
    score,
    sharpe_ratio,
)

HOUR = 3_600_000


def outcome(returns, symbol="X", start=0, trades=4, turnover=10.0) -> AssetOutcome:
    returns = np.asarray(returns, dtype=np.float64)
    stamps = start + np.arange(len(returns), dtype=np.int64) * HOUR
    return AssetOutcome(symbol, stamps, returns, trades, turnover)


def test_sharpe_is_annualised_mean_over_sample_std_and_zero_when_flat():
    # given
    r = np.array([0.01, -0.005, 0.02, 0.0, 0.003])

    # then
    expected = r.mean() / r.std(ddof=1) * math.sqrt(8760)
    assert sharpe_ratio(r, 8760) == pytest.approx(expected, rel=1e-12)
    assert sharpe_ratio(np.zeros(50), 8760) == 0.0


def test_max_drawdown_counts_the_start_as_a_peak():
    # given: -10% straight away, then +20%, then -25%
    r = [-0.1, 0.2, -0.25]

    # then: equity 0.9, 1.08, 0.81 -> worst fall 1.08 -> 0.81 = 25%
    assert max_drawdown(r) == pytest.approx(0.25)
    assert max_drawdown([-0.1, 0.05]) == pytest.approx(0.1)
    assert max_drawdown([0.01, 0.02]) == 0.0


def test_consistency_is_the_share_of_positive_asset_period_cells():
    # given: asset A earns in both halves, asset B only in the second
    a = outcome([0.01] * 10 + [0.01] * 10, "A")
    b = outcome([-0.01] * 10 + [0.02] * 10, "B")

    # then: 3 of 4 (asset, half) cells are positive
    assert consistency([a, b], 2) == pytest.approx(0.75)
    assert consistency([a, b], 1) == pytest.approx(1.0)


def test_consistency_ignores_cells_where_an_asset_has_no_bars():
    # given: B only exists in the second half of the common range
    a = outcome([0.01] * 20, "A")
    b = outcome([-0.01] * 10, "B", start=10 * HOUR)

    # then: cells A1+, A2+, B2- -> 2 of 3
    assert consistency([a, b], 2) == pytest.approx(2 / 3)


def test_score_aggregates_across_assets():
    # given
    rng = np.random.default_rng(0)
    a = outcome(rng.normal(0.001, 0.01, 500), "A", turnover=4.0)
    b = outcome(rng.normal(-0.0005, 0.01, 500), "B", turnover=8.0)

    # when
    objectives = score([a, b], 8760, 4)

    # then
    mean_sharpe = (sharpe_ratio(a.returns, 8760) + sharpe_ratio(b.returns, 8760)) / 2
    assert objectives.sharpe == pytest.approx(mean_sharpe)
    assert objectives.max_drawdown == max(max_drawdown(a.returns), max_drawdown(b.returns))
    assert objectives.turnover == pytest.approx(6.0)


def test_combined_score_uses_the_documented_normalisation():
    # given
    objectives = Objectives(sharpe=1.5, consistency=0.6, max_drawdown=0.1, turnover=3.0)

    # then: 0.5 * 1.5/3 + 0.3 * 0.6 - 0.2 * 0.1/0.5
    assert objectives.combined == pytest.approx(0.25 + 0.18 - 0.04)
    top = Objectives(sharpe=9.0, consistency=1.0, max_drawdown=0.0, turnover=0.0)
    assert top.combined == pytest.approx(0.8)
    assert WORST.combined == pytest.approx(-0.7)
    assert Objectives.from_dict(objectives.as_dict()) == objectives


def test_worst_is_never_better_than_a_valid_score():
    # given: a dreadful but valid strategy
    rng = np.random.default_rng(1)
    awful = score([outcome(rng.normal(-0.01, 0.05, 300))], 8760, 3)

    # then: better or equal on every objective
    assert awful.sharpe >= WORST.sharpe and awful.consistency >= WORST.consistency
    assert awful.max_drawdown <= WORST.max_drawdown and awful.turnover <= WORST.turnover
