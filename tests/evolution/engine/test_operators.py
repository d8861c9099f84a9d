"""Genetic operators: every child is a valid genome of its space; operators are seeded."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evolution.engine.diversity import Diversity, genome_distance
from evolution.engine.genome import SLOTS, Block, Genome
from evolution.engine.operators import (
    GenomeSpace,
    blend_value,
    crossover,
    mutate,
    mutate_value,
    random_genome,
    random_value,
    repair_genome_dict,
)
from evolution.engine.seeds import SEEDS, get_seed
from trading.engine.strategy import Param

SPACE = GenomeSpace.from_seeds(slot_probability=0.5)
NARROW = GenomeSpace.from_seeds(["ema_crossover", "donchian_breakout", "sma_trend_filter"])
seeds = st.integers(0, 2**32 - 1)


def assert_valid(genome: Genome, space: GenomeSpace) -> None:
    """Every block is allowed in its slot; every parameter is in range and of its type."""
    for block in genome.blocks():
        assert block.seed in space.seeds_for(block.role)
        for p in get_seed(block.seed).param_space:
            value = block.params[p.name]
            if p.kind == "int":
                assert type(value) is int and p.low <= value <= p.high
            elif p.kind == "float":
                assert type(value) is float and p.low <= value <= p.high
            elif p.kind == "bool":
                assert type(value) is bool
            else:
                assert value in p.choices


@settings(max_examples=80, deadline=None)
@given(seeds)
def test_random_genomes_are_valid(seed):
    # when
    genome = random_genome(SPACE, random.Random(seed))

    # then
    assert_valid(genome, SPACE)


@settings(max_examples=80, deadline=None)
@given(seeds, seeds)
def test_crossover_children_are_valid_and_made_of_their_parents_blocks(seed_a, seed_b):
    # given
    rng = random.Random(seed_a ^ seed_b)
    a, b = random_genome(SPACE, random.Random(seed_a)), random_genome(SPACE, random.Random(seed_b))

    # when
    first, second = crossover(a, b, SPACE, rng)

    # then
    for child in (first, second):
        assert_valid(child, SPACE)
    for slot in SLOTS:
        parent_seeds = {x.seed if x else None for x in (a.block(slot), b.block(slot))}
        for child in (first, second):
            block = child.block(slot)
            assert (block.seed if block else None) in parent_seeds


@settings(max_examples=80, deadline=None)
@given(seeds, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_mutation_changes_the_genes_and_keeps_them_valid(seed, param_rate, structure_rate):
    # given
    rng = random.Random(seed)
    genome = random_genome(SPACE, rng)

    # when
    child = mutate(genome, SPACE, rng, param_rate=param_rate, structure_rate=structure_rate)

    # then
    assert_valid(child, SPACE)
    assert not child.same_genes(genome)


@settings(max_examples=100, deadline=None)
@given(seeds, st.sampled_from(sorted(SEEDS)))
def test_parameter_operators_respect_bounds_types_and_choices(seed, name):
    # given
    rng = random.Random(seed)
    for p in get_seed(name).param_space:
        a, b = random_value(p, rng), random_value(p, rng)
        # when
        values = [mutate_value(p, a, rng, 0.5), blend_value(p, a, b, rng), a, b]
        # then
        for value in values:
            assert p.validate(value) == value
            assert type(value) is type(p.validate(value))


def test_log_scale_parameters_mutate_in_proportion():
    # given: a log-scale parameter spanning four decades
    param = Param("c", "float", 1.0, 0.001, 10.0, log=True)
    rng = random.Random(4)

    # when: small values are mutated many times
    steps = [mutate_value(param, 0.002, rng, 0.05) / 0.002 for _ in range(400)]

    # then: the steps are multiplicative (a linear step of 5% of the range would
    # jump 0.002 to ~0.5 most of the time)
    median = sorted(steps)[200]
    assert 0.7 < median < 1.4
    assert max(steps) < 20


def test_int_mutation_always_moves():
    # given
    param = Param("n", "int", 5, 2, 300, log=True)
    rng = random.Random(1)

    # then: even a tiny step on a wide log range changes the integer
    assert all(mutate_value(param, 2, rng, 0.0001) != 2 for _ in range(50))
    assert all(mutate_value(param, 300, rng, 0.0001) == 299 for _ in range(5))


def test_categorical_and_bool_mutation_picks_another_value():
    # given
    rng = random.Random(2)
    choice = Param("rule", "categorical", "a", choices=("a", "b", "c"))
    flag = Param("flag", "bool", False)

    # then
    assert {mutate_value(choice, "a", rng, 0.1) for _ in range(40)} == {"b", "c"}
    assert mutate_value(flag, False, rng, 0.1) is True


def test_operators_are_reproducible_from_the_generator():
    # when
    def sequence(seed: int) -> list[dict]:
        rng = random.Random(seed)
        a, b = random_genome(SPACE, rng), random_genome(SPACE, rng)
        first, second = crossover(a, b, SPACE, rng)
        return [g.to_dict() for g in (a, b, first, second, mutate(first, SPACE, rng))]

    # then
    assert sequence(7) == sequence(7)
    assert sequence(7) != sequence(8)


def test_repair_clips_loose_input_into_the_space():
    # given: out-of-range numbers, a float for an int, an unknown choice, a foreign seed
    loose = {
        "entry": {"seed": "ema_crossover", "params": {"fast_period": 999, "slow_period": 12.6,
                                                      "band": -1.0, "allow_short": "yes"}},
        "filter": {"seed": "no_such_filter"},
        "exit": {"seed": "atr_stop_loss", "params": {"stop_type": "teleport"}},
    }

    # when
    genome = repair_genome_dict(loose, SPACE, random.Random(0))

    # then
    assert genome.entry.params == {"fast_period": 50, "slow_period": 13, "band": 0.0,
                                   "allow_short": False}
    assert genome.filter is None
    assert genome.exit is not None and genome.exit.params["stop_type"] == "fixed"


def test_repair_replaces_blocks_the_space_does_not_allow():
    # given
    rng = random.Random(3)
    outsider = Genome(entry=Block("entry", "vwap_reversion"), exit=Block("exit", "atr_stop_loss"))

    # when
    genome = repair_genome_dict(outsider.to_dict(), NARROW, rng)

    # then
    assert genome.entry.seed in NARROW.entry_seeds
    assert genome.exit is None
    assert_valid(genome, NARROW)


def test_a_space_rejects_seeds_in_slots_they_cannot_fill():
    # then
    with pytest.raises(ValueError, match="cannot fill the filter slot"):
        GenomeSpace(entry_seeds=("ema_crossover",), filter_seeds=("ema_crossover",))
    with pytest.raises(ValueError, match="at least one entry seed"):
        GenomeSpace(entry_seeds=())
    assert GenomeSpace.from_dict(SPACE.as_dict()) == SPACE


@settings(max_examples=60, deadline=None)
@given(seeds, seeds)
def test_genome_distance_is_a_bounded_symmetric_dissimilarity(seed_a, seed_b):
    # given
    a, b = random_genome(SPACE, random.Random(seed_a)), random_genome(SPACE, random.Random(seed_b))

    # then
    d = genome_distance(a, b)
    assert 0.0 <= d <= 1.0 and math.isclose(d, genome_distance(b, a))
    assert genome_distance(a, a) == 0.0
    assert (d == 0.0) == a.same_genes(b)


def test_diversity_of_clones_is_zero_and_of_strangers_high():
    # given
    rng = random.Random(5)
    genome = random_genome(SPACE, rng)
    strangers = [random_genome(SPACE, rng) for _ in range(20)]

    # when
    clones = Diversity.of([genome] * 10)
    mixed = Diversity.of(strangers)

    # then
    assert clones.unique_ratio == pytest.approx(0.1) and clones.mean_distance == 0.0
    assert clones.collapsed(0.5, 0.1)
    assert mixed.unique_ratio == 1.0 and mixed.mean_distance > 0.4
    assert not mixed.collapsed(0.5, 0.1)
