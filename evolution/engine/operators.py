"""Genetic operators on genomes: random genomes, crossover, mutation, repair.

Guarantees:
- every genome an operator returns is valid in its `GenomeSpace`: each block's
  seed is allowed in its slot and every parameter is within its bounds and of
  its type (ints are ints, categoricals are one of their choices);
- log-scale parameters are drawn, blended and mutated in log space;
- operators draw randomness only from the `random.Random` passed in, never from
  a global generator, so a run is reproducible from its seed;
- operators set no lineage: the GA stamps generation and parents.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evolution.engine.genome import OPTIONAL_SLOTS, SLOTS, Block, Genome
from evolution.engine.seeds import SEEDS, SeedRole, get_seed
from trading.engine.strategy import Param

MUTATION_SCALE = 0.15  # Gaussian step as a share of a parameter's (log-)range


@dataclass(frozen=True)
class GenomeSpace:
    """Which seeds may fill each slot, and how often a random genome fills optional slots."""

    entry_seeds: tuple[str, ...]
    filter_seeds: tuple[str, ...] = ()
    exit_seeds: tuple[str, ...] = ()
    sizing_seeds: tuple[str, ...] = ()
    slot_probability: float = 0.5

    def __post_init__(self) -> None:
        if not self.entry_seeds:
            raise ValueError("GenomeSpace needs at least one entry seed")
        for slot in SLOTS:
            for name in self.seeds_for(slot):
                if slot not in get_seed(name).roles:
                    raise ValueError(f"seed {name!r} cannot fill the {slot} slot")
        if not 0.0 <= self.slot_probability <= 1.0:
            raise ValueError("GenomeSpace.slot_probability must be in [0, 1]")

    @classmethod
    def from_seeds(cls, allowed: Iterable[str] | None = None, **options: Any) -> GenomeSpace:
        """Each allowed seed (default: all 12) in every slot its roles permit."""
        names = list(SEEDS) if allowed is None else list(dict.fromkeys(allowed))
        per_slot = {slot: tuple(n for n in names if slot in get_seed(n).roles) for slot in SLOTS}
        return cls(
            entry_seeds=per_slot["entry"],
            filter_seeds=per_slot["filter"],
            exit_seeds=per_slot["exit"],
            sizing_seeds=per_slot["sizing"],
            **options,
        )

    def seeds_for(self, slot: SeedRole) -> tuple[str, ...]:
        seeds: tuple[str, ...] = getattr(self, f"{slot}_seeds")
        return seeds

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {f"{slot}_seeds": list(self.seeds_for(slot)) for slot in SLOTS}
        data["slot_probability"] = self.slot_probability
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenomeSpace:
        values = dict(data)
        for slot in SLOTS:
            key = f"{slot}_seeds"
            values[key] = tuple(values.get(key, ()))
        return cls(**values)


# ----------------------------------------------------------------------------- parameters


def _to_axis(param: Param, value: float) -> float:
    return math.log(value) if param.log else float(value)


def _from_axis(param: Param, position: float) -> Any:
    """The parameter value at `position` on its (log-)axis, clipped and typed."""
    assert param.low is not None and param.high is not None
    value = math.exp(position) if param.log else position
    value = min(max(value, param.low), param.high)
    if param.kind == "int":
        return int(min(max(round(value), math.ceil(param.low)), math.floor(param.high)))
    return float(value)


def _axis_bounds(param: Param) -> tuple[float, float]:
    assert param.low is not None and param.high is not None
    return _to_axis(param, param.low), _to_axis(param, param.high)


def random_value(param: Param, rng: random.Random) -> Any:
    """A uniform draw from the parameter's domain (log-uniform on a log scale)."""
    if param.kind == "bool":
        return rng.random() < 0.5
    if param.kind == "categorical":
        return param.choices[rng.randrange(len(param.choices))]
    assert param.low is not None and param.high is not None
    if param.kind == "int":
        low, high = math.ceil(param.low), math.floor(param.high)
        if not param.log:
            return rng.randint(low, high)
        # integer k drawn with the log-uniform mass of [k, k + 1)
        return min(int(math.exp(rng.uniform(math.log(low), math.log(high + 1)))), high)
    low_axis, high_axis = _axis_bounds(param)
    return _from_axis(param, rng.uniform(low_axis, high_axis))


def repair_value(param: Param, value: Any) -> Any:
    """`value` coerced into the parameter's domain (clipped, rounded; default if unusable)."""
    if param.kind == "bool":
        return value if isinstance(value, bool) else bool(param.default)
    if param.kind == "categorical":
        return value if value in param.choices else param.default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return param.default
    assert param.low is not None and param.high is not None
    clipped = min(max(float(value), param.low), param.high)
    return _from_axis(param, _to_axis(param, clipped))


def mutate_value(param: Param, value: Any, rng: random.Random, scale: float) -> Any:
    """A different value near `value`: a Gaussian step on the (log-)axis, a flip, a new choice."""
    if param.kind == "bool":
        return not value
    if param.kind == "categorical":
        others = [c for c in param.choices if c != value]
        return others[rng.randrange(len(others))] if others else value
    low, high = _axis_bounds(param)
    step = rng.gauss(0.0, scale * (high - low))
    mutated = _from_axis(param, _to_axis(param, value) + step)
    if param.kind == "int" and mutated == value and param.low != param.high:
        direction = 1 if (rng.random() < 0.5 and value < param.high) or value <= param.low else -1
        mutated = int(value) + direction
    return mutated


def blend_value(param: Param, a: Any, b: Any, rng: random.Random, alpha: float = 0.5) -> Any:
    """BLX-alpha on the (log-)axis for numbers; one of the two parents' values otherwise."""
    if param.kind in ("bool", "categorical"):
        return a if rng.random() < 0.5 else b
    left, right = sorted((_to_axis(param, a), _to_axis(param, b)))
    margin = alpha * (right - left)
    return _from_axis(param, rng.uniform(left - margin, right + margin))


def random_params(seed_name: str, rng: random.Random) -> dict[str, Any]:
    return {p.name: random_value(p, rng) for p in get_seed(seed_name).param_space}


def repair_params(seed_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of the seed, in range and typed (missing ones take the default)."""
    return {
        p.name: repair_value(p, params.get(p.name, p.default))
        for p in get_seed(seed_name).param_space
    }


# ----------------------------------------------------------------------------- genomes


def random_block(slot: SeedRole, space: GenomeSpace, rng: random.Random) -> Block:
    names = space.seeds_for(slot)
    if not names:
        raise ValueError(f"the genome space allows no seed in the {slot} slot")
    name = names[rng.randrange(len(names))]
    return Block(slot, name, random_params(name, rng))


def random_genome(space: GenomeSpace, rng: random.Random) -> Genome:
    """An entry block, and each optional slot filled with probability `slot_probability`."""
    blocks: dict[str, Block | None] = {"entry": random_block("entry", space, rng)}
    for slot in OPTIONAL_SLOTS:
        filled = bool(space.seeds_for(slot)) and rng.random() < space.slot_probability
        blocks[slot] = random_block(slot, space, rng) if filled else None
    return _genome(blocks)


def _genome(blocks: Mapping[str, Block | None]) -> Genome:
    entry = blocks["entry"]
    assert entry is not None
    return Genome(
        entry=entry, filter=blocks.get("filter"), exit=blocks.get("exit"),
        sizing=blocks.get("sizing"),
    )


def repair(genome: Genome, space: GenomeSpace, rng: random.Random) -> Genome:
    """`genome` with every block the space does not allow replaced (entry) or dropped."""
    blocks: dict[str, Block | None] = {}
    for slot in SLOTS:
        block = genome.block(slot)
        if block is not None and block.seed not in space.seeds_for(slot):
            block = random_block(slot, space, rng) if slot == "entry" else None
        blocks[slot] = block
    return _genome(blocks).with_lineage(genome.generation, genome.parents)


def repair_genome_dict(data: Mapping[str, Any], space: GenomeSpace, rng: random.Random) -> Genome:
    """A valid genome from loose input: parameters clipped and typed, unknown seeds replaced."""
    blocks: dict[str, Block | None] = {}
    for slot in SLOTS:
        raw = data.get(slot)
        name = raw.get("seed") if isinstance(raw, Mapping) else None
        if name not in SEEDS or slot not in get_seed(str(name)).roles:
            blocks[slot] = random_block("entry", space, rng) if slot == "entry" else None
            continue
        assert isinstance(raw, Mapping)
        blocks[slot] = Block(slot, str(name), repair_params(str(name), raw.get("params", {})))
    return repair(_genome(blocks), space, rng)


def _cross_params(x: Block, y: Block, rng: random.Random) -> tuple[Block, Block]:
    """Two children of same-seed blocks: each parameter kept, swapped or blended (1/3 each)."""
    first, second = dict(x.params), dict(y.params)
    for p in x.strategy.param_space:
        u = rng.random()
        if u < 1 / 3:
            continue
        if u < 2 / 3:
            first[p.name], second[p.name] = second[p.name], first[p.name]
        else:
            a, b = x.params[p.name], y.params[p.name]
            first[p.name], second[p.name] = blend_value(p, a, b, rng), blend_value(p, a, b, rng)
    return Block(x.role, x.seed, first), Block(y.role, y.seed, second)


def crossover(
    a: Genome, b: Genome, space: GenomeSpace, rng: random.Random
) -> tuple[Genome, Genome]:
    """Two children: blocks of different seeds swapped slot by slot, same-seed blocks blended."""
    first: dict[str, Block | None] = {}
    second: dict[str, Block | None] = {}
    for slot in SLOTS:
        x, y = a.block(slot), b.block(slot)
        if x is not None and y is not None and x.seed == y.seed:
            first[slot], second[slot] = _cross_params(x, y, rng)
        elif rng.random() < 0.5:
            first[slot], second[slot] = y, x
        else:
            first[slot], second[slot] = x, y
    return repair(_genome(first), space, rng), repair(_genome(second), space, rng)


def _mutate_structure(
    blocks: dict[str, Block | None], space: GenomeSpace, rng: random.Random
) -> None:
    """Replace the entry seed, or add, replace or remove one optional block."""
    slots = [s for s in SLOTS if space.seeds_for(s)]
    slot = slots[rng.randrange(len(slots))]
    if slot == "entry" or blocks[slot] is None or rng.random() < 0.5:
        blocks[slot] = random_block(slot, space, rng)
    else:
        blocks[slot] = None


def _mutate_once(
    genome: Genome, space: GenomeSpace, rng: random.Random, rates: tuple[float, float, float]
) -> Genome:
    param_rate, structure_rate, scale = rates
    blocks: dict[str, Block | None] = {slot: genome.block(slot) for slot in SLOTS}
    if rng.random() < structure_rate:
        _mutate_structure(blocks, space, rng)
    for slot, block in blocks.items():
        if block is None:
            continue
        params = dict(block.params)
        for p in block.strategy.param_space:
            if rng.random() < param_rate:
                params[p.name] = mutate_value(p, params[p.name], rng, scale)
        blocks[slot] = Block(block.role, block.seed, params)
    return repair(_genome(blocks), space, rng)


def mutate(
    genome: Genome,
    space: GenomeSpace,
    rng: random.Random,
    *,
    param_rate: float = 0.25,
    structure_rate: float = 0.15,
    scale: float = MUTATION_SCALE,
) -> Genome:
    """A changed copy: each parameter mutated with `param_rate`, the structure with
    `structure_rate`; retried until the genes differ, and if the rates changed
    nothing after a few tries, one parameter is redrawn."""
    rates = (param_rate, structure_rate, scale)
    mutated = _mutate_once(genome, space, rng, rates)
    for _ in range(8):
        if not mutated.same_genes(genome):
            return mutated
        mutated = _mutate_once(genome, space, rng, rates)
    return _redraw_one_parameter(mutated, rng)


def _redraw_one_parameter(genome: Genome, rng: random.Random) -> Genome:
    """`genome` with one parameter redrawn until it differs (when the rates changed nothing)."""
    blocks: dict[str, Block | None] = {slot: genome.block(slot) for slot in SLOTS}
    present = [b for b in genome.blocks() if len(b.strategy.param_space)]
    for _ in range(20):
        block = present[rng.randrange(len(present))]
        params = list(block.strategy.param_space)
        param = params[rng.randrange(len(params))]
        value = random_value(param, rng)
        if value != block.params[param.name]:
            blocks[block.role] = Block(block.role, block.seed, {**block.params, param.name: value})
            break
    return _genome(blocks).with_lineage(genome.generation, genome.parents)
