"""Genomes: validation, identity, JSON round-trip, and decoding into one strategy."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evolution.engine.genome import Block, Genome, decode, genome_from_json
from evolution.engine.operators import GenomeSpace, random_genome
from evolution.engine.seeds import get_seed
from tests.evolution.engine.seed_fixtures import bars_from_closes
from trading.engine.strategy import ParameterError, Strategy

ALL_SEEDS = GenomeSpace.from_seeds(slot_probability=0.6)


def trending_bars(n: int = 600):
    """A slow sine-wave trend with noise: crossings, trend changes and volatility."""
    rng = np.random.default_rng(11)
    t = np.arange(n)
    closes = 100 * np.exp(0.15 * np.sin(t / 40) + np.cumsum(rng.normal(0, 0.012, n)))
    return bars_from_closes(closes, spread=0.003, volume=rng.uniform(50, 150, n))


def full_genome() -> Genome:
    return Genome(
        entry=Block("entry", "ema_crossover", {"fast_period": 5, "slow_period": 20,
                                               "allow_short": True}),
        filter=Block("filter", "sma_trend_filter", {"period": 50}),
        exit=Block("exit", "atr_stop_loss", {"stop_mult": 2.5, "take_profit_mult": 4.0}),
        sizing=Block("sizing", "volatility_scaling", {"vol_window": 48, "target_vol": 0.3}),
        generation=3,
        parents=("a_1_00000000", "b_2_11111111"),
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_any_genome_survives_a_json_round_trip(seed):
    # given
    genome = random_genome(ALL_SEEDS, random.Random(seed)).with_lineage(seed % 40, ("p_0_abc",))

    # when
    text = json.dumps(genome.to_dict())
    back = genome_from_json(text)

    # then
    assert back == genome
    assert back.to_dict() == genome.to_dict()
    assert back.identity == genome.identity
    assert back.generation == genome.generation and back.parents == genome.parents


def test_identity_is_combo_generation_and_genes_hash():
    # given
    genome = full_genome()

    # then
    combo = "ema_crossover+sma_trend_filter+atr_stop_loss+volatility_scaling"
    assert genome.identity == f"{combo}_3_{genome.genes_hash[:8]}"
    single = Genome(entry=Block("entry", "donchian_breakout"))
    assert single.identity.startswith("donchian_breakout_0_")


def test_genes_hash_ignores_lineage_but_not_parameters():
    # given
    genome = full_genome()

    # when
    reborn = genome.with_lineage(9, ("x_1_22222222",))
    changed = Genome.from_dict({**genome.to_dict(), "entry": {
        "seed": "ema_crossover", "params": {**genome.entry.params, "fast_period": 6}}})

    # then
    assert reborn.genes_hash == genome.genes_hash
    assert changed.genes_hash != genome.genes_hash


def test_blocks_are_validated_against_the_seed_and_the_slot():
    # then: a parameter out of range names the field
    with pytest.raises(ParameterError) as error:
        Block("entry", "ema_crossover", {"fast_period": 500})
    assert "fast_period" in error.value.errors
    # a seed that cannot play the slot's role
    with pytest.raises(ValueError, match="cannot be the entry block"):
        Block("entry", "atr_stop_loss")
    with pytest.raises(KeyError, match="unknown seed"):
        Block("entry", "no_such_seed")
    with pytest.raises(ValueError, match="needs an entry block"):
        Genome.from_dict({"entry": None})
    with pytest.raises(ValueError, match="malformed"):
        genome_from_json("{not json")


def test_decoding_gives_one_strategy_combining_all_blocks():
    # given
    genome = full_genome()
    bars = trending_bars()

    # when
    strategy = decode(genome)
    signals = strategy.signals(bars, {})

    # then: one Strategy object, its entries are the entry seed's masked by the filter
    assert isinstance(strategy, Strategy)
    entry = get_seed("ema_crossover").signals(bars, genome.entry.params)
    guard = get_seed("sma_trend_filter").signals(bars, genome.filter.params).extras
    np.testing.assert_array_equal(signals.entries, entry.entries & guard["allow"])
    np.testing.assert_array_equal(signals.short_entries,
                                  entry.short_entries & guard["allow_short"])
    np.testing.assert_array_equal(signals.exits, entry.exits)
    assert entry.entries.sum() > signals.entries.sum() > 0, "the filter must remove some"
    # stops come from the exit block, sizes from the sizing block
    stops = get_seed("atr_stop_loss").signals(bars, genome.exit.params)
    np.testing.assert_array_equal(signals.sl_stop, stops.sl_stop)
    np.testing.assert_array_equal(signals.tp_stop, stops.tp_stop)
    assert signals.tsl_stop is None
    sizes = get_seed("volatility_scaling").signals(bars, genome.sizing.params).size
    np.testing.assert_array_equal(signals.size, sizes)


def test_an_entry_only_genome_is_the_entry_seed_itself():
    # given
    genome = Genome(entry=Block("entry", "rsi_filter", {"period": 9}))
    bars = trending_bars()

    # when
    signals = decode(genome).signals(bars, {})
    alone = get_seed("rsi_filter").signals(bars, {"period": 9})

    # then
    np.testing.assert_array_equal(signals.entries, alone.entries)
    np.testing.assert_array_equal(signals.exits, alone.exits)
    assert signals.size is None and signals.sl_stop is None and signals.short_entries is None


def test_prefixed_parameters_override_the_genomes_values():
    # given
    genome = full_genome()
    strategy = decode(genome)
    bars = trending_bars()

    # when
    faster = strategy.signals(bars, {"entry.fast_period": 3, "exit.stop_type": "trailing"})

    # then
    assert strategy.param_space.defaults()["entry.fast_period"] == 5
    assert "sizing.target_vol" in strategy.param_space.names()
    assert faster.sl_stop is None and faster.tsl_stop is not None
    assert not np.array_equal(faster.entries, strategy.signals(bars, {}).entries)
    with pytest.raises(ParameterError):
        strategy.signals(bars, {"entry.fast_period": 0})


def test_a_genome_is_described_in_words():
    # when
    words = full_genome().describe()

    # then
    assert words.startswith("Enter on EMA crossover (fast_period=5")
    assert "only when SMA trend filter" in words
    assert "exit by ATR stop-loss" in words and "size by Volatility scaling" in words
    assert decode(full_genome()).description == words
