"""The fast evaluation path: the same results as the one-genome reference, cold or cached."""

from __future__ import annotations

import json
import random

import pytest

from evolution.engine.datasets import Dataset
from evolution.engine.evaluation import (
    EvaluationConfig,
    clear_lookahead_cache,
    evaluate_genomes,
    period_returns,
)
from evolution.engine.genome import Block, Genome, decode
from evolution.engine.lookahead_gate import (
    LookaheadMemory,
    genome_offence,
    lookahead_offence,
)
from evolution.engine.objectives import AssetOutcome, score, sharpe_ratio
from evolution.engine.operators import random_genome
from evolution.engine.signal_store import BlockSignalStore, DatasetSignals
from evolution.engine.simulation import simulate_columns
from tests.evolution.engine.ga_fixtures import extra_seeds, fast_space, real_dataset  # noqa: F401
from trading.engine.market import periods_per_year, timeframe_ms

CONFIG = EvaluationConfig()


@pytest.fixture(scope="module")
def dataset():
    return real_dataset(("BTCUSDT", "ETHUSDT"), "2022-01-01", "2022-05-01")


def reference_evaluation(genome, dataset, config):
    """A genome scored the plain way: decoded strategy, the backtest engine column by
    column, `objectives.score` and `period_returns` (what the GA's evaluation defines)."""
    strategy = decode(genome)
    outcomes = []
    for bars, (start, stop) in zip(dataset.bars, dataset.windows, strict=True):
        [column] = simulate_columns(bars, (start, stop),
                                    [strategy.signals(bars.slice(0, stop), {})], config.backtest)
        outcomes.append(AssetOutcome(bars.symbol, bars.timestamps[start:stop], column.returns,
                                     column.trades, column.turnover))
    periods = periods_per_year(dataset.timeframe)
    origin, ledger = period_returns(outcomes, timeframe_ms(config.ledger_period))
    sharpes = [sharpe_ratio(o.returns, periods) for o in outcomes]
    return score(outcomes, periods, config.sub_periods).as_dict(), sharpes, origin, ledger


def test_evaluations_equal_the_one_genome_reference_bit_for_bit(dataset):
    # given: varied genomes, scored with sub-periods and a ledger period other than the default
    rng = random.Random(12)
    genomes = [random_genome(fast_space(slot_probability=0.6), rng) for _ in range(16)]
    config = EvaluationConfig(sub_periods=5, ledger_period="4h")
    clear_lookahead_cache()

    # when
    evaluations = evaluate_genomes(genomes, dataset, config)

    # then: every figure (and its JSON text, so even the sign of a zero) is the reference's
    scored = [e for e in evaluations if e.ok]
    assert len(scored) >= 10
    for evaluation in scored:
        objectives, sharpes, origin, ledger = reference_evaluation(evaluation.genome, dataset,
                                                                   config)
        assert json.dumps(evaluation.objectives.as_dict()) == json.dumps(objectives)
        assert [a.sharpe for a in evaluation.assets] == sharpes
        assert evaluation.period_origin_ms == origin
        assert json.dumps(evaluation.period_returns) == json.dumps(ledger)


def test_a_cached_evaluation_equals_a_fresh_one(dataset):
    # given: a population, and children that share blocks with it
    rng = random.Random(3)
    parents = [random_genome(fast_space(slot_probability=0.6), rng) for _ in range(8)]
    children = [Genome(entry=a.entry, filter=b.filter, exit=b.exit, sizing=a.sizing)
                for a, b in zip(parents, parents[1:] + parents[:1], strict=True)]
    clear_lookahead_cache()
    evaluate_genomes(parents, dataset, CONFIG)

    # when: the children are scored with warm caches, then again from cold
    warm = [json.dumps(e.to_dict()) for e in evaluate_genomes(children, dataset, CONFIG)]
    clear_lookahead_cache()
    cold = [json.dumps(e.to_dict()) for e in evaluate_genomes(children, dataset, CONFIG)]

    # then
    assert warm == cold


@pytest.mark.usefixtures("extra_seeds")
def test_the_block_check_gives_the_strategy_checks_verdict(dataset):
    # given: honest genomes and leaky ones (next-bar peeking, rare or frequent)
    rng = random.Random(5)
    genomes = [random_genome(fast_space(slot_probability=0.7), rng) for _ in range(10)]
    for jump, guard in ((0.0, None), (0.03, None), (0.0, Block("filter", "sma_trend_filter"))):
        genomes.append(Genome(entry=Block("entry", "peeking", {"jump": jump}), filter=guard,
                              exit=Block("exit", "atr_stop_loss")))
    signals = DatasetSignals(dataset, BlockSignalStore())
    memory = LookaheadMemory()
    bars = signals.bars[0]
    verdicts = []

    for genome in genomes:
        # when: blocks checked once and remembered, across genomes
        full = signals.genome(0, genome)
        seed = int(genome.genes_hash[:16], 16)
        verdicts.append(genome_offence(genome, signals, full, per_field=1, seed=seed, pool=8,
                                       memory=memory))

        # then: the same sentence (or None) as the check of the decoded strategy
        assert verdicts[-1] == lookahead_offence(decode(genome), bars, full, per_field=1,
                                                 seed=seed, pool=8)
    assert all(v is not None for v in verdicts[-3:])


@pytest.mark.usefixtures("extra_seeds")
def test_a_leaky_block_is_caught_after_its_seed_passed_under_other_parameters(dataset):
    # given: the peeking seed passes the check with parameters under which it never fires
    # (a 5% hourly jump), so its block's values at the last-bar cut are remembered as clean
    quiet = Genome(entry=Block("entry", "peeking", {"jump": 0.05}))
    leaky = Genome(entry=Block("entry", "peeking", {"jump": 0.0}))
    clear_lookahead_cache()
    [passed] = evaluate_genomes([quiet], dataset, CONFIG)

    # when: the same seed with parameters that fire is evaluated with those checks cached
    [caught] = evaluate_genomes([leaky], dataset, CONFIG)

    # then
    assert passed.reason in (None, "never traded")
    assert caught.reason is not None and caught.reason.startswith("lookahead:")


def test_a_dataset_reloaded_with_other_bars_under_its_key_is_not_served_stale_results(dataset):
    # given: the same key and as many bars, once for January-April, once for May-August
    other = real_dataset(("BTCUSDT", "ETHUSDT"), "2022-05-01", "2022-08-29")
    impostor = Dataset(key=dataset.key, bars=other.bars, windows=other.windows)
    genome = Genome(entry=Block("entry", "ema_crossover", {"fast_period": 8,
                                                            "slow_period": 34}))
    clear_lookahead_cache()
    [first] = evaluate_genomes([genome], dataset, CONFIG)

    # when
    [second] = evaluate_genomes([genome], impostor, CONFIG)

    # then: the second dataset's own results, as a cold cache gives them
    clear_lookahead_cache()
    [fresh] = evaluate_genomes([genome], impostor, CONFIG)
    assert second.to_dict() == fresh.to_dict() != first.to_dict()
