"""Genomes: an entry seed plus optional filter, exit and sizing seeds, with parameters.

Guarantees:
- a `Block` always holds a registered seed able to play its slot's role and
  parameters validated (type-coerced, defaults filled) against that seed's
  `ParamSpace`; an invalid block cannot be built;
- `Genome.to_dict()` / `Genome.from_dict()` round-trip exactly through JSON;
- `genes_hash` depends on the blocks only (seeds and parameter values), never
  on the generation or the parents, so the same genes always hash the same in
  any process; `identity` is `{seed_or_combo}_{generation}_{genes_hash[:8]}`;
- `decode(genome)` gives ONE `trading.engine.strategy.Strategy` (the object
  backtests and live trading run): entries of the entry block, masked by the
  filter's `allow` / `allow_short`; stops from the exit block; sizes from the
  sizing block. It reads bars 0..t for the value at t whenever its seeds do;
- `combine_blocks` is that combination, bar by bar: the genome's value at bar t
  is a function of its blocks' values at bar t only, so a genome whose blocks
  are each computed once (`block_signals`) and combined gets exactly the
  signals of `decode(genome).signals(bars, {})`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evolution.engine.seeds import Seed, SeedRole, get_seed
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals

SLOTS: tuple[SeedRole, ...] = ("entry", "filter", "exit", "sizing")
OPTIONAL_SLOTS: tuple[SeedRole, ...] = ("filter", "exit", "sizing")
HASH_LENGTH = 8


def _json_value(value: Any) -> Any:
    """Plain JSON types for a validated parameter value (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True, eq=False)
class Block:
    """One seed in one slot of a genome, with its validated parameters."""

    role: SeedRole
    seed: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in SLOTS:
            raise ValueError(f"unknown slot {self.role!r}; expected one of {', '.join(SLOTS)}")
        seed = get_seed(self.seed)
        if self.role not in seed.roles:
            raise ValueError(f"seed {self.seed!r} cannot be the {self.role} block of a genome")
        validated = seed.validate(self.params)
        object.__setattr__(self, "params", {k: _json_value(v) for k, v in validated.items()})

    @property
    def strategy(self) -> Seed:
        return get_seed(self.seed)

    @functools.cached_property
    def signals_key(self) -> tuple[str, type, str]:
        """What the block's signals depend on besides the bars: the seed (name and class)
        and the parameters (`repr` tells 1 from 1.0 and 0.0 from -0.0)."""
        return (self.seed, type(self.strategy), repr(sorted(self.params.items())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Block):
            return NotImplemented
        return self.to_dict() == other.to_dict() and self.role == other.role

    def __hash__(self) -> int:
        return hash((self.role, _canonical(self.to_dict())))

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "params": dict(self.params)}

    def describe(self) -> str:
        """The seed's title and its parameters, e.g. 'EMA crossover (fast_period=9, ...)'."""
        values = ", ".join(f"{k}={_format(v)}" for k, v in self.params.items())
        return f"{self.strategy.title} ({values})"


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True, eq=False)
class Genome:
    """An entry block and optional filter / exit / sizing blocks, with lineage.

    `generation` is the generation the genome was born in; `parents` are the
    identities of the genomes it was bred from (empty for random genomes).
    Equality compares genes only.
    """

    entry: Block
    filter: Block | None = None
    exit: Block | None = None
    sizing: Block | None = None
    generation: int = 0
    parents: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for slot in SLOTS:
            block = getattr(self, slot)
            if slot == "entry" and block is None:
                raise ValueError("a genome needs an entry block")
            if block is not None and block.role != slot:
                raise ValueError(f"the {slot} slot holds a {block.role} block")
        if self.generation < 0:
            raise ValueError("Genome.generation must be >= 0")
        object.__setattr__(self, "parents", tuple(self.parents))

    def blocks(self) -> list[Block]:
        """The blocks present, in slot order (entry, filter, exit, sizing)."""
        return [b for b in (self.entry, self.filter, self.exit, self.sizing) if b is not None]

    def block(self, slot: SeedRole) -> Block | None:
        if slot not in SLOTS:
            raise ValueError(f"unknown slot {slot!r}")
        block: Block | None = getattr(self, slot)
        return block

    def genes(self) -> dict[str, Any]:
        """The genes only: each slot's seed and parameters (None for an empty slot)."""
        return {slot: (b.to_dict() if (b := self.block(slot)) else None) for slot in SLOTS}

    @functools.cached_property
    def genes_hash(self) -> str:
        return hashlib.sha256(_canonical(self.genes()).encode()).hexdigest()

    @property
    def seed_or_combo(self) -> str:
        """The entry seed's name, or every block's seed name joined with '+'."""
        return "+".join(b.seed for b in self.blocks())

    @property
    def identity(self) -> str:
        return f"{self.seed_or_combo}_{self.generation}_{self.genes_hash[:HASH_LENGTH]}"

    def same_genes(self, other: Genome) -> bool:
        return self.genes() == other.genes()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Genome):
            return NotImplemented
        return self.same_genes(other)

    def __hash__(self) -> int:
        return hash(self.genes_hash)

    def with_lineage(self, generation: int, parents: tuple[str, ...] = ()) -> Genome:
        """The same genes, born in `generation` from `parents`."""
        return Genome(self.entry, self.filter, self.exit, self.sizing, generation, parents)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = self.genes()
        data["generation"] = self.generation
        data["parents"] = list(self.parents)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Genome:
        """The genome `to_dict` wrote (missing parameters take their defaults)."""
        unknown = set(data) - {*SLOTS, "generation", "parents"}
        if unknown:
            raise ValueError(f"unknown genome fields: {sorted(unknown)}")
        blocks: dict[str, Block | None] = {}
        for slot in SLOTS:
            raw = data.get(slot)
            blocks[slot] = None if raw is None else Block(slot, raw["seed"], raw.get("params", {}))
        entry = blocks["entry"]
        if entry is None:
            raise ValueError("a genome needs an entry block")
        return cls(
            entry=entry,
            filter=blocks["filter"],
            exit=blocks["exit"],
            sizing=blocks["sizing"],
            generation=int(data.get("generation", 0)),
            parents=tuple(data.get("parents", ())),
        )

    def describe(self) -> str:
        """The genome in words, e.g. 'Enter on EMA crossover (...); only when ... allows'."""
        parts = [f"Enter on {self.entry.describe()}"]
        if self.filter is not None:
            parts.append(f"only when {self.filter.describe()} allows")
        if self.exit is not None:
            parts.append(f"exit by {self.exit.describe()}")
        if self.sizing is not None:
            parts.append(f"size by {self.sizing.describe()}")
        return "; ".join(parts) + "."


class GenomeStrategy:
    """A decoded genome: a `Strategy` whose parameters are its blocks' ('entry.period', ...).

    Parameters given to `signals` override the genome's own values, so the same
    object serves backtests of the genome and parameter searches around it.
    (A plain class, not a frozen dataclass: the `Strategy` protocol declares its
    attributes as variables; nothing here ever changes them.)
    """

    def __init__(self, genome: Genome, name: str, description: str, param_space: ParamSpace):
        self.genome = genome
        self.name = name
        self.description = description
        self.param_space = param_space

    def signals(self, bars: Bars, params: Mapping[str, Any]) -> Signals:
        per_slot = self.block_params(params)
        blocks = {b.role: b.strategy.signals(bars, per_slot[b.role]) for b in self.genome.blocks()}
        return combine_blocks(blocks["entry"], blocks.get("filter"), blocks.get("exit"),
                              blocks.get("sizing"))

    def block_params(self, params: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Per-slot parameters: the genome's values overridden by `params` ('slot.name' keys)."""
        checked = self.param_space.validate(params)
        per_slot: dict[str, dict[str, Any]] = {b.role: {} for b in self.genome.blocks()}
        for key, value in checked.items():
            slot, name = key.split(".", 1)
            per_slot[slot][name] = value
        return per_slot


STOP_FIELDS = ("sl_stop", "tp_stop", "tsl_stop")


def combine_blocks(
    entry: Signals,
    filter: Signals | None = None,
    exit: Signals | None = None,
    sizing: Signals | None = None,
) -> Signals:
    """A genome's signals from its blocks' signals (see the module docstring)."""
    entries, short_entries = entry.entries, entry.short_entries
    if filter is not None:
        guard = filter.extras
        entries = entries & np.asarray(guard["allow"], dtype=bool)
        if short_entries is not None and "allow_short" in guard:
            short_entries = short_entries & np.asarray(guard["allow_short"], dtype=bool)
    stops = {name: getattr(entry if exit is None else exit, name) for name in STOP_FIELDS}
    return Signals(
        entries=entries,
        exits=entry.exits,
        short_entries=short_entries,
        short_exits=entry.short_exits,
        size=entry.size if sizing is None else sizing.size,
        **stops,
    )


def block_signals(block: Block, bars: Bars) -> Signals:
    """The block's seed on `bars` with the block's own (already validated) parameters:
    what `decode(genome).signals(bars, {})` computes for it."""
    return block.strategy.compute(bars, dict(block.params))


def _prefixed_space(genome: Genome) -> ParamSpace:
    params: list[Param] = []
    for block in genome.blocks():
        for p in block.strategy.param_space:
            params.append(
                Param(
                    name=f"{block.role}.{p.name}",
                    kind=p.kind,
                    default=block.params[p.name],
                    low=p.low,
                    high=p.high,
                    choices=p.choices,
                    log=p.log,
                    description=f"{block.strategy.title}: {p.description}".rstrip(": "),
                )
            )
    return ParamSpace(tuple(params))


def decode(genome: Genome) -> GenomeStrategy:
    """The strategy a genome stands for (see the module docstring for how blocks combine)."""
    return GenomeStrategy(
        genome=genome,
        name=genome.identity,
        description=genome.describe(),
        param_space=_prefixed_space(genome),
    )


def genome_from_json(text: str) -> Genome:
    """`Genome.from_dict` of a JSON document; ValueError for malformed input."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"genome JSON is malformed: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("a genome is a JSON object")
    return Genome.from_dict(data)


__all__ = [
    "Block",
    "Genome",
    "GenomeStrategy",
    "OPTIONAL_SLOTS",
    "SLOTS",
    "block_signals",
    "combine_blocks",
    "decode",
    "genome_from_json",
]
