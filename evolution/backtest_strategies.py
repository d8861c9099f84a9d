"""The seeds and evolved genomes as strategies of the backtest registry.

Guarantees (registered once, at `EvolutionConfig.ready`, no database access):
- every seed that can be an entry block is registered under its own name;
- every genome structure (an entry seed, and optionally a filter, an exit and a
  sizing seed) is registered as `genome:<entry>+<filter>+<exit>+<sizing>` (the
  genome's `seed_or_combo`): the engine's `GenomeStrategy` of that structure,
  whose parameters are the blocks' parameters named '<slot>.<name>'. Backtesting
  it with a genome's `prefixed_params` gives exactly that genome's signals
  (`decode(genome)`), in any process, so a backtest session of an evolved
  strategy needs nothing but its name and parameters.
"""

from __future__ import annotations

import itertools
from typing import Any

from backtests.engine.strategies import register
from evolution.engine.genome import SLOTS, Block, Genome, GenomeStrategy, decode
from evolution.engine.neighbourhood import prefixed_params
from evolution.engine.seeds import list_seeds

PREFIX = "genome:"


def genome_strategy_name(genome: Genome) -> str:
    return f"{PREFIX}{genome.seed_or_combo}"


def genome_backtest_params(genome: Genome) -> dict[str, Any]:
    """The backtest parameters ('<slot>.<name>') that reproduce `genome`."""
    return prefixed_params(genome)


def _structures() -> list[Genome]:
    choices: list[list[str | None]] = []
    for slot in SLOTS:
        names: list[str | None] = [s.name for s in list_seeds(slot)]
        choices.append(names if slot == "entry" else [None, *names])
    genomes = []
    for combo in itertools.product(*choices):
        blocks = {slot: None if name is None else Block(slot, name)
                  for slot, name in zip(SLOTS, combo, strict=True)}
        entry = blocks["entry"]
        assert entry is not None
        genomes.append(Genome(entry=entry, filter=blocks["filter"],
                              exit=blocks["exit"], sizing=blocks["sizing"]))
    return genomes


def genome_strategy(genome: Genome) -> GenomeStrategy:
    """The registered strategy of `genome`'s structure (defaults: the seeds' defaults)."""
    default = _structure_of(genome)
    decoded = decode(default)
    return GenomeStrategy(
        default, name=genome_strategy_name(genome),
        description=("An evolved genome: " + " ".join(
            f"{b.role} block {b.strategy.title};" for b in default.blocks())
            + " Parameters are named <slot>.<parameter>. Open an evolved strategy from its "
              "page to backtest it with its own parameters."),
        param_space=decoded.param_space,
    )


def _structure_of(genome: Genome) -> Genome:
    blocks = {slot: None if (b := genome.block(slot)) is None else Block(slot, b.seed)
              for slot in SLOTS}
    entry = blocks["entry"]
    assert entry is not None
    return Genome(entry=entry, filter=blocks["filter"], exit=blocks["exit"],
                  sizing=blocks["sizing"])


def register_backtest_strategies() -> None:
    """Register the entry seeds and every genome structure (idempotent)."""
    for seed in list_seeds("entry"):
        register(seed, replace=True)
    for structure in _structures():
        register(genome_strategy(structure), replace=True)
