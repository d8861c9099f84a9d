"""Scores of many genomes at once equal the one-genome definitions of `objectives.py` bit for bit."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evolution.engine.column_scores import asset_scores, pairwise_sum, squared_deviation_sum
from evolution.engine.evaluation import period_grid, period_returns
from evolution.engine.objectives import (
    AssetOutcome,
    max_drawdown,
    sharpe_ratio,
    span_edges,
    span_index,
    span_returns,
)

HOUR = 3_600_000
DAY = 24 * HOUR


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 2**32 - 1))
def test_pairwise_sum_is_numpys_sum(length, seed):
    # given: values of mixed magnitudes, where summation order shows
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 1, length) * 10.0 ** rng.integers(-12, 6, length)

    # then
    assert pairwise_sum(values) == np.sum(values)
    mean = float(np.mean(values)) if length else 0.0
    assert squared_deviation_sum(values, mean) == np.sum(np.square(values - mean))


def returns_matrix(rng: np.random.Generator, rows: int, bars: int) -> np.ndarray:
    """Per-bar returns like a backtest's: flat stretches, small moves, a few crashes."""
    out = rng.normal(0, 0.01, (rows, bars))
    out[rng.random((rows, bars)) < 0.4] = 0.0
    out[rng.random((rows, bars)) < 0.002] = -0.9
    out[0] = 0.0  # a genome that never traded
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 900), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_each_row_scores_as_the_objectives_define(bars, spans, seed):
    # given: rows of returns on hourly bars starting mid-day, some rows left out
    rng = np.random.default_rng(seed)
    returns = returns_matrix(rng, 6, bars)
    stamps = 1_000 * DAY + 7 * HOUR + np.arange(bars, dtype=np.int64) * HOUR
    outcomes = [AssetOutcome("X", stamps, r, 1, 0.0) for r in returns.copy()]
    edges = span_edges(outcomes[:1], spans)
    origin, periods = period_grid([stamps], DAY)
    rows = np.array([5, 0, 2, 3])

    # when
    scores = asset_scores(returns, rows, 8760.0, span_index(stamps, edges), spans,
                          (stamps - origin) // DAY, periods)

    # then
    for k, row in enumerate(rows):
        r = outcomes[row].returns
        sharpe = sharpe_ratio(r, 8760.0)
        assert scores.sharpe[k] == (sharpe if math.isfinite(sharpe) else 0.0)
        assert scores.total_return[k] == float(np.prod(1.0 + r) - 1.0)
        assert scores.max_drawdown[k] == max_drawdown(r)
        totals, _ = span_returns(outcomes[row], edges)
        assert np.array_equal(scores.span_totals[k], totals)
        _, ledger = period_returns([outcomes[row]], DAY)
        assert np.array_equal(scores.period_totals[k], np.array(ledger))
