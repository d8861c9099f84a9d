"""Block signals computed once and shared: the same signals as the decoded genome, never stale."""

from __future__ import annotations

import random

import numpy as np
import pytest

from evolution.engine.genome import Block, Genome, decode
from evolution.engine.lookahead_gate import FIELDS
from evolution.engine.operators import random_genome
from evolution.engine.seeds import SEEDS, get_seed
from evolution.engine.seeds.crossings import band_crossings, crossed_above, crossed_below
from evolution.engine.seeds.indicator_memo import IndicatorMemo
from evolution.engine.seeds.shared_indicators import atr_by_period, ema_by_period
from evolution.engine.signal_store import BlockSignalStore, DatasetSignals
from tests.evolution.engine.ga_fixtures import (  # noqa: F401
    FAST_SEEDS,
    extra_seeds,
    fast_space,
    real_dataset,
)
from trading.engine.indicators import atr, ema
from trading.engine.strategy import Signals


@pytest.fixture(scope="module")
def dataset():
    return real_dataset(("BTCUSDT", "ETHUSDT"), "2022-01-01", "2022-04-01")


def same_values(x: object, y: object) -> bool:
    if x is None or y is None:
        return x is None and y is None
    a, b = np.asarray(x), np.asarray(y)
    return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def same_signals(a: Signals, b: Signals) -> bool:
    """Every field and every extra equal (dtype included, NaN equal to NaN)."""
    return all(same_values(getattr(a, n), getattr(b, n)) for n in FIELDS) and \
        a.extras.keys() == b.extras.keys() and \
        all(same_values(a.extras[k], b.extras[k]) for k in a.extras)


def test_genome_signals_equal_the_decoded_strategys(dataset):
    # given: varied genomes (filters, stops, sizes, shorts)
    rng = random.Random(8)
    genomes = [random_genome(fast_space(slot_probability=0.7), rng) for _ in range(25)]
    signals = DatasetSignals(dataset, BlockSignalStore())

    # when: the population's blocks are computed together first
    signals.prefetch(genomes)

    # then: bit for bit what the decoded strategy computes, on every instrument
    for genome in genomes:
        for asset, (bars, (_, stop)) in enumerate(zip(dataset.bars, dataset.windows,
                                                      strict=True)):
            expected = decode(genome).signals(bars.slice(0, stop), {})
            assert same_signals(signals.genome(asset, genome), expected), genome.describe()


def test_a_block_is_computed_once_for_every_genome_that_holds_it(dataset):
    # given: two genomes sharing their entry block
    entry = Block("entry", "ema_crossover", {"fast_period": 8, "slow_period": 30})
    first = Genome(entry=entry)
    second = Genome(entry=entry, filter=Block("filter", "rsi_filter"))
    store = BlockSignalStore()
    signals = DatasetSignals(dataset, store)

    # when
    one = signals.block(0, first.entry)
    signals.genome(0, second)

    # then: the entry block was computed once; a shorter history is another entry
    assert store.computed == 2 and signals.block(0, second.entry) is one
    shorter = signals.block(0, entry, length=500)
    assert store.computed == 3 and len(shorter.entries) == 500
    assert np.array_equal(shorter.entries, one.entries[:500])


@pytest.mark.usefixtures("extra_seeds")
def test_a_crashing_block_is_not_stored_and_raises_every_time(dataset):
    # given
    store = BlockSignalStore()
    signals = DatasetSignals(dataset, store)
    crashing = Genome(entry=Block("entry", "crashing"))

    # when
    signals.prefetch([crashing])

    # then
    for _ in range(2):
        with pytest.raises(FloatingPointError):
            signals.genome(0, crashing)
    assert len(store) == 0


def test_the_store_drops_the_least_recently_used_blocks_beyond_its_capacity(dataset):
    # given: room for about two blocks' signals
    blocks = [Block("entry", "ema_crossover", {"fast_period": 5 + i, "slow_period": 40})
              for i in range(3)]
    probe = DatasetSignals(dataset, BlockSignalStore()).block(0, blocks[0])
    store = BlockSignalStore(capacity_bytes=2 * (probe.entries.nbytes + probe.exits.nbytes))
    def batch() -> DatasetSignals:  # each batch of a process reads the store anew
        return DatasetSignals(dataset, store)

    # when
    kept = batch().block(0, blocks[0])
    batch().block(0, blocks[1])
    batch().block(0, blocks[0])  # used again: now the most recent
    batch().block(0, blocks[2])

    # then: blocks[1] was dropped, blocks[0] is still served
    assert len(store) == 2 and batch().block(0, blocks[0]) is kept
    computed = store.computed
    batch().block(0, blocks[1])
    assert store.computed == computed + 1


@pytest.mark.parametrize("name", FAST_SEEDS)
def test_compute_many_gives_each_parameter_sets_own_signals(name, dataset):
    # given: random parameter sets of the seed, some repeated
    seed = get_seed(name)
    rng = random.Random(FAST_SEEDS.index(name))
    space = fast_space()
    blocks = [random_genome(space, rng) for _ in range(40)]
    params = [dict(b.params) for g in blocks for b in g.blocks() if b.seed == name][:6]
    params = params + params[:2] or [seed.validate({})]
    bars = dataset.bars[0]

    # when
    together = seed.compute_many(bars, params)

    # then
    assert len(together) == len(params)
    for p, signals in zip(params, together, strict=True):
        assert same_signals(signals, SEEDS[name].compute(bars, p))


@pytest.mark.parametrize("name", FAST_SEEDS)
def test_a_seed_given_the_indicator_memo_gives_the_signals_it_gives_without(name, dataset):
    # given: a memo holding the rows of a first batch of the seed's blocks on these bars
    seed = get_seed(name)
    rng = random.Random(100 + FAST_SEEDS.index(name))
    space = fast_space()
    params = [dict(b.params) for _ in range(60) for b in random_genome(space, rng).blocks()
              if b.seed == name] or [seed.validate({})]
    bars = dataset.bars[0]
    memo = IndicatorMemo().series(("these bars",))
    seed.compute_many(bars, params[: len(params) // 2], memo)

    # when: a second batch, partly the same periods, reads the memo
    served = seed.compute_many(bars, params, memo)

    # then
    for p, signals in zip(params, served, strict=True):
        assert same_signals(signals, seed.compute(bars, p))


def test_the_indicator_memo_computes_only_the_periods_it_has_not_kept():
    # given
    memo = IndicatorMemo()
    asked: list[list[int]] = []

    def compute(periods):
        asked.append(list(periods))
        return {n: np.full(4, float(n)) for n in periods}

    btc, eth = memo.series(("dataset", 0, 4)), memo.series(("dataset", 1, 4))

    # when
    first = btc.rows("atr", [5, 7, 5], compute)
    second = btc.rows("atr", [7, 9], compute)
    other_series = eth.rows("atr", [7], compute)
    other_indicator = btc.rows("rsi", [7], compute)

    # then: each (series, indicator, period) computed once, rows equal to the computed ones
    assert asked == [[5, 7], [9], [7], [7]]
    assert sorted(first) == [5, 7] and sorted(second) == [7, 9]
    assert second[7] is first[7] and second[7].base is None  # kept rows own their memory
    assert np.array_equal(other_series[7], np.full(4, 7.0)) and other_indicator[7] is not first[7]
    assert memo.computed == 5


def test_the_indicator_memo_drops_the_least_recently_used_rows_beyond_its_capacity():
    # given: room for two rows of four values
    memo = IndicatorMemo(capacity_bytes=2 * 4 * 8)
    series = memo.series("series")
    counted: list[int] = []

    def compute(periods):
        counted.extend(periods)
        return {n: np.zeros(4) for n in periods}

    # when
    series.rows("x", [1], compute)
    series.rows("x", [2], compute)
    series.rows("x", [1], compute)  # used again: now the most recent
    series.rows("x", [3], compute)
    series.rows("x", [1, 2], compute)

    # then: 2 was dropped and computed again, 1 was kept
    assert counted == [1, 2, 3, 2] and len(memo) == 2


def test_emas_computed_together_equal_ema_one_by_one(dataset):
    # given: periods in any order, repeated, longer than the data, after leading NaNs
    close = dataset.bars[0].close.copy()
    close[:17] = np.nan
    periods = [200, 2, 9, 9, 21, 1, 55, 3, 144, 13, 34, 89, 5000, 8]

    # when
    emas = ema_by_period(close, periods)

    # then
    for n in periods:
        assert np.array_equal(emas[n], ema(close, n), equal_nan=True)
    with pytest.raises(ValueError):
        ema_by_period(close, [0])


def test_atrs_computed_together_equal_atr_one_by_one(dataset):
    # given: sixteen periods and a few more (two full groups and a short one), leading NaNs
    bars = dataset.bars[0]
    high = bars.high.copy()
    high[:9] = np.nan
    periods = list(range(5, 51, 3)) + [1, 2, 14, 14, 9000]

    # when
    atrs = atr_by_period(high, bars.low, bars.close, periods)

    # then
    for n in periods:
        assert np.array_equal(atrs[n], atr(high, bars.low, bars.close, n), equal_nan=True)


def test_band_crossings_equal_the_crossings_of_the_spread():
    # given: EMA-like lines with NaN warm-up, ties and a zero band
    rng = np.random.default_rng(2)
    fast = 100 + np.cumsum(rng.normal(0, 1, 3000))
    slow = 100 + np.cumsum(rng.normal(0, 0.5, 3000))
    fast[:30] = np.nan
    slow[:60] = np.nan
    slow[500:510] = fast[500:510]

    for band in (0.0, 0.004, 0.02):
        # when
        above, below = band_crossings(fast, slow, band)

        # then
        spread = (fast - slow) / slow
        assert np.array_equal(above, crossed_above(spread, band))
        assert np.array_equal(below, crossed_below(spread, -band))
