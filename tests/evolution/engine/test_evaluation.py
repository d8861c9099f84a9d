"""Evaluation on real data: costs on, failures contained, results independent of batching."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from backtests.engine.backtest import run_backtest
from backtests.engine.config import BacktestConfig
from backtests.engine.costs import Costs
from backtests.engine.lookahead import check_lookahead
from evolution.engine.datasets import (
    DATASETS,
    Dataset,
    DatasetCache,
    DatasetSpec,
    csv_directory_loader,
)
from evolution.engine.evaluation import (
    Evaluation,
    EvaluationConfig,
    evaluate_batch,
    evaluate_genomes,
)
from evolution.engine.genome import Block, Genome, decode
from evolution.engine.lookahead_gate import lookahead_offence
from evolution.engine.objectives import WORST
from evolution.engine.operators import GenomeSpace, random_genome
from evolution.engine.seeds import get_seed
from tests.evolution.engine.ga_fixtures import (  # noqa: F401
    FAST_SEEDS,
    extra_seeds,
    fast_space,
    ms,
    real_dataset,
)
from tests.market_data import data_dir

CONFIG = EvaluationConfig()
SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return real_dataset(SYMBOLS, "2022-01-01", "2022-07-01")


def donchian() -> Genome:
    return Genome(entry=Block("entry", "donchian_breakout", {"entry_period": 24}),
                  exit=Block("exit", "atr_stop_loss", {"stop_mult": 3.0}))


def test_a_genome_is_scored_on_every_instrument_with_costs(dataset):
    # when
    [evaluation] = evaluate_genomes([donchian()], dataset, CONFIG)

    # then
    assert evaluation.ok and evaluation.trades > 10
    assert [a.symbol for a in evaluation.assets] == list(SYMBOLS)
    assert evaluation.objectives.sharpe == pytest.approx(np.mean([a.sharpe for a in
                                                                  evaluation.assets]))
    # the ledger's daily returns cover the half year
    assert evaluation.period_ms == 86_400_000 and len(evaluation.period_returns) == 181


def test_per_instrument_figures_match_the_backtest_engine(dataset):
    # given
    genome = donchian()
    config = CONFIG.backtest

    # when
    [evaluation] = evaluate_genomes([genome], dataset, CONFIG)

    # then: the same Sharpe and total return as a single backtest of the decoded strategy
    for bars, figures in zip(dataset.bars, evaluation.assets, strict=True):
        result = run_backtest(bars, decode(genome), {}, config)
        assert figures.sharpe == pytest.approx(result.stats["performance"]["sharpe"], rel=1e-9)
        assert figures.total_return == pytest.approx(
            result.stats["performance"]["total_return"], rel=1e-9, abs=1e-12)
        assert figures.trades == result.stats["trades"]["trades"]


def test_fees_and_slippage_are_charged_and_cannot_be_switched_off(dataset):
    # given
    expensive = EvaluationConfig(backtest=BacktestConfig(
        allow_short=True, costs=Costs(taker_fee=0.002, slippage=0.002)))

    # when
    [cheap], [dear] = (evaluate_genomes([donchian()], dataset, c) for c in (CONFIG, expensive))

    # then
    assert dear.objectives.sharpe < cheap.objectives.sharpe
    with pytest.raises(ValueError, match="fees and slippage"):
        EvaluationConfig(backtest=BacktestConfig(costs=Costs(taker_fee=0.0, slippage=0.0)))


@pytest.mark.usefixtures("extra_seeds")
def test_a_crashing_genome_gets_the_worst_fitness_and_the_batch_goes_on(dataset):
    # given
    crashing = Genome(entry=Block("entry", "crashing"))

    # when
    good, bad, also_good = evaluate_genomes([donchian(), crashing, donchian()], dataset, CONFIG)

    # then
    assert bad.objectives == WORST and not bad.ok
    assert bad.reason == "crashed: FloatingPointError: the indicator blew up"
    assert good.ok and also_good.ok and good.objectives == also_good.objectives


@pytest.mark.usefixtures("extra_seeds")
def test_signals_the_simulator_refuses_fail_alone(dataset):
    # given: two genomes whose signals have the same shape (entries + sizes), one
    # sized at 0% of equity
    sized = Genome(entry=donchian().entry, sizing=Block("sizing", "volatility_scaling"))
    refused = Genome(entry=donchian().entry, sizing=Block("sizing", "zero_sizing"))

    # when
    good, bad = evaluate_genomes([sized, refused], dataset, CONFIG)

    # then
    assert good.ok and good.objectives == evaluate_genomes([sized], dataset, CONFIG)[0].objectives
    assert bad.objectives == WORST
    assert bad.reason.startswith("crashed: ValueError: Signals.size must be a fraction")


@pytest.mark.usefixtures("extra_seeds")
def test_a_leaky_genome_is_rejected_by_the_lookahead_check(dataset):
    # given: a genome whose entries read the next bar's close
    leaky = Genome(entry=Block("entry", "peeking"), exit=Block("exit", "atr_stop_loss"))

    # when
    [evaluation] = evaluate_genomes([leaky], dataset, CONFIG)

    # then: it would look brilliant, but it is thrown out
    assert evaluation.objectives == WORST
    assert evaluation.reason.startswith("lookahead: entries at bar")


def test_a_genome_that_never_trades_gets_the_worst_fitness():
    # given: funding carry on bars without funding data never signals
    dataset = real_dataset(SYMBOLS, "2022-01-01", "2022-04-01", funding=False)
    idle = Genome(entry=Block("entry", "funding_rate_carry"))

    # when
    [evaluation] = evaluate_genomes([idle], dataset, CONFIG)

    # then
    assert evaluation.objectives == WORST and evaluation.reason == "never traded"
    demanding = EvaluationConfig(min_trades=10_000)
    [busy] = evaluate_genomes([donchian()], dataset, demanding)
    assert busy.reason.startswith("traded ") and busy.reason.endswith("(< 10000)")


def test_results_do_not_depend_on_batching_or_order(dataset):
    # given: seven varied genomes (shorts, stops, sizes, filters mixed)
    rng = random.Random(21)
    genomes = [random_genome(fast_space(slot_probability=0.6), rng) for _ in range(7)]

    # when
    together = [e.to_dict() for e in evaluate_genomes(genomes, dataset, CONFIG)]
    alone = [evaluate_genomes([g], dataset, CONFIG)[0].to_dict() for g in genomes]
    reversed_ = [e.to_dict() for e in evaluate_genomes(genomes[::-1], dataset, CONFIG)][::-1]

    # then: bit-for-bit the same
    assert together == alone == reversed_
    assert sum(1 for e in together if e["reason"] is None) >= 4


def test_evaluate_batch_is_json_in_json_out_and_matches_in_process(dataset):
    # given
    rng = random.Random(5)
    genomes = [random_genome(fast_space(), rng) for _ in range(4)]
    DATASETS.put(dataset)
    payload = json.loads(json.dumps([g.to_dict() for g in genomes]))

    # when
    rows = evaluate_batch(payload, dataset.key, CONFIG.as_dict())

    # then
    assert json.loads(json.dumps(rows)) == rows
    assert rows == [e.to_dict() for e in evaluate_genomes(genomes, dataset, CONFIG)]
    assert [Evaluation.from_dict(r).to_dict() for r in rows] == rows


def test_evaluate_batch_contains_an_undecodable_genome(dataset):
    # given
    DATASETS.put(dataset)
    rows = [{"entry": {"seed": "ema_crossover", "params": {"fast_period": -3}}},
            donchian().to_dict()]

    # when
    first, second = evaluate_batch(rows, dataset.key, CONFIG.as_dict())

    # then
    assert first["reason"].startswith("invalid genome:") and first["objectives"] == WORST.as_dict()
    assert second["reason"] is None


def test_a_worker_loads_a_dataset_once_and_reuses_it():
    # given: a cache with the shared-data loader, as a worker process has
    cache = DatasetCache(csv_directory_loader(data_dir()))
    spec = DatasetSpec(SYMBOLS, "1h", ms("2022-03-01"), ms("2022-04-01"), warmup_bars=200)

    # when
    first = cache.get(spec.key)
    again = cache.get(DatasetSpec.from_key(spec.key).key)

    # then
    assert again is first and cache.loads == 1
    assert first.symbols == SYMBOLS
    start, stop = first.windows[0]
    assert start == 200 and stop - start == 31 * 24
    assert int(first.bars[0].timestamps[start]) == ms("2022-03-01")
    assert np.isfinite(first.bars[0].funding_rate[start:]).all()


@pytest.mark.usefixtures("extra_seeds")
def test_the_aimed_cuts_catch_a_rare_leak_that_random_cuts_miss(dataset):
    # given: entries only before a >3% hourly jump (a handful of bars in six months)
    leaky = Genome(entry=Block("entry", "peeking", {"jump": 0.03}))
    bars = dataset.bars[0].slice(0, 4000)
    full = decode(leaky).signals(bars, {})
    assert 0 < full.entries.sum() < 20

    # when
    random_check = check_lookahead(decode(leaky), bars, n_cuts=4, seed=1)
    aimed = lookahead_offence(decode(leaky), bars, full, per_field=1, seed=1)

    # then
    assert random_check.passed, "a few random cuts do not see such a rare leak"
    assert aimed is not None and aimed.startswith("lookahead: entries at bar")


@pytest.mark.parametrize("name", FAST_SEEDS)
def test_honest_seeds_pass_the_aimed_cuts(name, dataset):
    # given: a few random genomes with this seed in its first role
    rng = random.Random(sorted(FAST_SEEDS).index(name))
    seed = get_seed(name)
    space = GenomeSpace.from_seeds(["ema_crossover", name])
    bars = dataset.bars[1]
    for _ in range(3):
        genome = random_genome(space, rng)
        if seed.role != "entry" and genome.block(seed.role) is None:
            genome = Genome.from_dict({**genome.to_dict(), seed.role: {"seed": name}})
        strategy = decode(genome)
        # when
        offence = lookahead_offence(strategy, bars, strategy.signals(bars, {}), per_field=3,
                                    seed=rng.randrange(2**32))
        # then
        assert offence is None, genome.describe()
