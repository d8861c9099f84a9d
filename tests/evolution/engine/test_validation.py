"""Validation: 60/20/20 windows, stage figures side by side, run-level DSR and PBO."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backtests.engine.backtest import run_backtest
from backtests.engine.config import BacktestConfig
from evolution.engine.datasets import Dataset
from evolution.engine.evaluation import EvaluationConfig, evaluate_genomes
from evolution.engine.ga import GAConfig, run_evolution
from evolution.engine.genome import Block, Genome, decode
from evolution.engine.neighbourhood import NeighbourhoodOptimizer, prefixed_params
from evolution.engine.trial_ledger import TrialLedger, TrialRecord
from evolution.engine.validation import (
    SplitWindows,
    out_of_sample_truth,
    run_overfitting,
    validate_genome,
)
from tests.evolution.engine.ga_fixtures import (  # noqa: F401
    extra_seeds,
    fast_space,
    ms,
    real_bars,
    real_dataset,
)

CONFIG = EvaluationConfig()
START, END = ms("2021-01-01"), ms("2023-01-01")


@pytest.fixture(scope="module")
def windows() -> SplitWindows:
    return SplitWindows.standard(START, END, "1h")


@pytest.fixture(scope="module")
def full() -> Dataset:
    return real_dataset(("BTCUSDT", "ETHUSDT"), "2021-01-01", "2023-01-01")


def donchian() -> Genome:
    return Genome(entry=Block("entry", "donchian_breakout", {"entry_period": 48}),
                  sizing=Block("sizing", "volatility_scaling", {"target_vol": 0.4}))


def test_standard_windows_are_consecutive_60_20_20_spans(windows):
    # then
    (a, b), (c, d), (e, f) = windows.in_sample, windows.out_of_sample, windows.walk_forward
    assert a == START and b == c and d == e and f == END
    total = END - START
    assert (b - a) / total == pytest.approx(0.6, abs=1e-4)
    assert (d - c) / total == pytest.approx(0.2, abs=1e-4)
    assert all(t % 3_600_000 == 0 for t in (b, d))


def test_a_genome_is_validated_side_by_side_on_each_instrument(windows, full):
    # when
    report = validate_genome(donchian(), full.bars, windows)

    # then
    table = report.side_by_side()
    assert set(table["sharpe"]) == {"in_sample", "out_of_sample", "walk_forward"}
    assert all(value is not None for value in table["sharpe"].values())
    assert report.lookahead_passed
    assert set(report.walk_forward) == {"BTCUSDT", "ETHUSDT"}
    assert all("efficiency" in details for details in report.walk_forward.values())
    assert json.loads(json.dumps(report.to_dict()))["identity"] == donchian().identity


def test_in_sample_figures_are_the_gas_own_fitness(windows, full):
    # given: the GA's in-sample dataset
    in_sample = full.window(*windows.in_sample, key="validation-is")
    [evaluation] = evaluate_genomes([donchian()], in_sample, CONFIG)

    # when
    report = validate_genome(donchian(), full.bars, windows, CONFIG.backtest)

    # then: one definition of Sharpe, one simulator
    for figures in evaluation.assets:
        stage = report.instruments[figures.symbol]["in_sample"]
        assert stage["sharpe"] == pytest.approx(figures.sharpe, rel=1e-9)


def test_out_of_sample_is_traded_with_the_in_sample_genome_unchanged(windows, full):
    # given
    bars = full.bars[0]
    start, end = (int(np.searchsorted(bars.timestamps, t)) for t in windows.out_of_sample)

    # when
    report = validate_genome(donchian(), [bars], windows, BacktestConfig(allow_short=True))
    direct = run_backtest(bars, decode(donchian()), {}, BacktestConfig(allow_short=True),
                          start=start, end=end)

    # then
    stage = report.instruments[bars.symbol]["out_of_sample"]
    assert stage["sharpe"] == pytest.approx(direct.stats["performance"]["sharpe"], rel=1e-12)


@pytest.mark.usefixtures("extra_seeds")
def test_validation_reports_a_leaky_genome(windows, full):
    # when
    report = validate_genome(Genome(entry=Block("entry", "peeking", {"jump": 0.02})),
                             full.bars[:1], windows)

    # then
    assert not report.lookahead_passed
    assert report.lookahead["aimed_cuts"]["offence"].startswith("lookahead: ")


def test_the_walk_forward_optimiser_only_moves_parameters():
    # given
    genome = donchian()
    optimizer = NeighbourhoodOptimizer(genome, neighbours=5)

    # when
    candidates = optimizer.candidates()

    # then
    assert candidates[0] == prefixed_params(genome)
    assert len(candidates) == 6 and candidates == optimizer.candidates()
    assert all(set(c) == set(candidates[0]) for c in candidates)
    assert len({json.dumps(c, sort_keys=True) for c in candidates}) == 6
    bars = real_bars("BTCUSDT", "2022-01-01", "2022-07-01")
    result = optimizer.optimize(bars, decode(genome), BacktestConfig(), start=500, end=3000)
    assert result.best_params in candidates and len(result.trials) == 6


def test_out_of_sample_truth_sits_next_to_the_in_sample_fitness(windows, full):
    # given
    in_sample = full.window(*windows.in_sample, key="truth-is")
    out_of_sample = full.window(*windows.out_of_sample, key="truth-oos")
    evaluations = evaluate_genomes([donchian()], in_sample, CONFIG)

    # when
    [row] = out_of_sample_truth(evaluations, out_of_sample, CONFIG)

    # then
    assert row["in_sample"] == evaluations[0].objectives.as_dict()
    [later] = evaluate_genomes([donchian()], out_of_sample, CONFIG)
    assert row["out_of_sample"] == later.objectives.as_dict()
    assert row["out_of_sample"]["sharpe"] != row["in_sample"]["sharpe"]


def test_the_run_reports_deflated_sharpe_and_pbo_from_its_ledger(windows, full):
    # given: a small run recording every trial
    in_sample = full.window(*windows.in_sample, key="ledger-is")
    ledger = TrialLedger()
    evolution = run_evolution(
        GAConfig(space=fast_space(), population=12, generations=3, seed=6),
        lambda genomes: evaluate_genomes(genomes, in_sample, CONFIG),
        on_generation=lambda e, stats, evaluations: ledger.append(stats.generation, evaluations),
    )
    best = evolution.hall_of_fame.best[0].genome.identity

    # when
    report = run_overfitting(ledger, selected=best)

    # then
    assert report["recorded"] == 36 and 2 <= report["trials"] <= 36
    assert report["selected"] == best
    assert 0.0 <= report["deflated_sharpe"]["deflated_sharpe"] <= 1.0
    assert report["deflated_sharpe"]["n_trials"] == report["trials"]
    assert 0.0 <= report["pbo"]["pbo"] <= 1.0
    # the ledger survives JSON
    again = TrialLedger.from_dicts(json.loads(json.dumps(ledger.to_dicts())))
    assert run_overfitting(again, selected=best) == report


def test_the_returns_matrix_aligns_trials_on_one_period_grid():
    # given: two trials starting on different days
    day = 86_400_000
    ledger = TrialLedger([
        TrialRecord(0, "a", "ha", {}, None, 10 * day, day, (0.01, 0.02, 0.03)),
        TrialRecord(0, "b", "hb", {}, None, 11 * day, day, (0.05, 0.06)),
        TrialRecord(0, "c", "hc", {}, "crashed: boom"),
        TrialRecord(1, "a2", "ha", {}, None, 10 * day, day, (0.01, 0.02, 0.03)),
    ])

    # when
    times, matrix, trials = ledger.returns_matrix()

    # then: failed trials and repeated genes are left out, missing periods are 0
    assert [t.identity for t in trials] == ["a", "b"]
    assert list(times) == [10 * day, 11 * day, 12 * day]
    np.testing.assert_array_equal(matrix, [[0.01, 0.0], [0.02, 0.05], [0.03, 0.06]])
