"""The multi-objective GA: NSGA-II over genomes as an ask -> evaluate -> tell loop.

Guarantees:
- fully reproducible from `GAConfig.seed`: all randomness comes from one
  `random.Random` owned by the run (never the global generators) and
  selection is deterministic, so the same config and the same evaluations
  give the same run, whoever evaluated the genomes (in-process or Celery);
- `ask()` returns the genomes of the next generation to evaluate (generation 0:
  random genomes; later: children bred by binary tournament on NSGA-II rank and
  crowding, crossover and mutation, plus random immigrants after a diversity
  collapse); `tell(evaluations)` takes their evaluations in the same order;
- survivors are chosen by DEAP's `selNSGA2` from parents + children (mu + lambda),
  with the `elite` best by combined score always kept; random immigrants, when
  due, replace part of the population for at least one generation;
- `checkpoint()` is JSON-serialisable and captures the state after the last
  completed generation (population, generation, RNG state, hall of fame,
  statistics); `Evolution(config, checkpoint)` resumes from it and continues
  exactly as the uninterrupted run would have;
- `generations` counts every generation including the random one (50 x 20 =
  1,000 evaluations).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from evolution.engine.diversity import Diversity
from evolution.engine.evaluation import Evaluation
from evolution.engine.generation_stats import GenerationStats, generation_stats
from evolution.engine.genome import Genome
from evolution.engine.objectives import OBJECTIVE_NAMES
from evolution.engine.operators import GenomeSpace, crossover, mutate, random_genome
from evolution.engine.selection import (
    HallOfFame,
    check_objectives,
    distinct,
    ranks_and_crowding,
    select_survivors,
)

UNIQUE_TRIES = 6  # attempts to breed a genome not seen before in the run


@dataclass(frozen=True)
class GAConfig:
    """Size, operators and diversity policy of a run."""

    space: GenomeSpace
    population: int = 50
    generations: int = 20
    seed: int = 42
    crossover_rate: float = 0.7
    mutation_rate: float = 0.4
    param_mutation_rate: float = 0.25
    structure_mutation_rate: float = 0.15
    elite: int = 2
    min_unique_ratio: float = 0.6
    min_mean_distance: float = 0.12
    reseed_fraction: float = 0.25
    hall_of_fame_size: int = 10
    pareto_limit: int = 100
    objectives: tuple[str, ...] = OBJECTIVE_NAMES  # what NSGA-II ranks on

    def __post_init__(self) -> None:
        object.__setattr__(self, "objectives", check_objectives(self.objectives))
        if self.population < 4 or self.generations < 1:
            raise ValueError("GAConfig needs population >= 4 and generations >= 1")
        for name in ("crossover_rate", "mutation_rate", "param_mutation_rate",
                     "structure_mutation_rate", "min_unique_ratio", "min_mean_distance"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"GAConfig.{name} must be in [0, 1]")
        if not 0.0 <= self.reseed_fraction < 1.0:
            raise ValueError("GAConfig.reseed_fraction must be in [0, 1)")
        if not 0 <= self.elite < self.population:
            raise ValueError("GAConfig.elite must be in [0, population)")

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items() if k != "space"}
        data["space"] = self.space.as_dict()
        data["objectives"] = list(self.objectives)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GAConfig:
        values = dict(data)
        values["space"] = GenomeSpace.from_dict(values["space"])
        return cls(**values)


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss_next = rng.getstate()
    return [version, list(internal), gauss_next]


def _restore_rng(state: Sequence[Any]) -> random.Random:
    rng = random.Random()
    rng.setstate((state[0], tuple(state[1]), state[2]))
    return rng


@dataclass(frozen=True)
class Checkpoint:
    """Everything needed to resume a run after its last completed generation."""

    config: GAConfig
    next_generation: int
    rng_state: list[Any]
    population: tuple[Evaluation, ...] = ()
    hall_of_fame: HallOfFame = field(default_factory=HallOfFame)
    history: tuple[GenerationStats, ...] = ()
    seen: tuple[str, ...] = ()
    immigrants_due: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.as_dict(),
            "next_generation": self.next_generation,
            "rng_state": self.rng_state,
            "population": [e.to_dict() for e in self.population],
            "hall_of_fame": self.hall_of_fame.to_dict(),
            "history": [s.to_dict() for s in self.history],
            "seen": list(self.seen),
            "immigrants_due": self.immigrants_due,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        return cls(
            config=GAConfig.from_dict(data["config"]),
            next_generation=int(data["next_generation"]),
            rng_state=list(data["rng_state"]),
            population=tuple(Evaluation.from_dict(e) for e in data["population"]),
            hall_of_fame=HallOfFame.from_dict(data["hall_of_fame"]),
            history=tuple(GenerationStats.from_dict(s) for s in data["history"]),
            seen=tuple(data["seen"]),
            immigrants_due=int(data["immigrants_due"]),
        )


class Evolution:
    """One GA run, driven by `ask` / `tell` (see the module docstring)."""

    def __init__(self, config: GAConfig, checkpoint: Checkpoint | None = None):
        if checkpoint is None:
            checkpoint = Checkpoint(
                config=config,
                next_generation=0,
                rng_state=_rng_state(random.Random(config.seed)),
                hall_of_fame=HallOfFame(
                    pareto_limit=config.pareto_limit, best_limit=config.hall_of_fame_size,
                    objectives=config.objectives,
                ),
            )
        elif checkpoint.config != config:
            raise ValueError("the checkpoint belongs to a run with another configuration")
        self.config = config
        self._saved = checkpoint
        self._rng = _restore_rng(checkpoint.rng_state)
        self._pending: list[Genome] | None = None
        self._immigrants: set[str] = set()

    @property
    def generation(self) -> int:
        """The generation `ask` breeds next (= the number of completed generations)."""
        return self._saved.next_generation

    @property
    def done(self) -> bool:
        return self.generation >= self.config.generations

    @property
    def population(self) -> tuple[Evaluation, ...]:
        return self._saved.population

    @property
    def hall_of_fame(self) -> HallOfFame:
        return self._saved.hall_of_fame

    @property
    def history(self) -> tuple[GenerationStats, ...]:
        return self._saved.history

    def checkpoint(self) -> Checkpoint:
        """The state after the last completed generation (safe to store and resume)."""
        return self._saved

    # ------------------------------------------------------------------ ask

    def ask(self) -> list[Genome]:
        """The genomes to evaluate for generation `self.generation` (same list until `tell`)."""
        if self.done:
            raise RuntimeError("the run has completed all its generations")
        if self._pending is None:
            seen = set(self._saved.seen)
            if self.generation == 0:
                self._pending = self._random_genomes(self.config.population, seen)
            else:
                immigrants = self._random_genomes(self._saved.immigrants_due, seen)
                self._immigrants = {g.genes_hash for g in immigrants}
                children = self._children(self.config.population - len(immigrants), seen)
                self._pending = children + immigrants
        return list(self._pending)

    def _random_genomes(self, count: int, seen: set[str]) -> list[Genome]:
        out = []
        for _ in range(count):
            genome = random_genome(self.config.space, self._rng)
            for _ in range(UNIQUE_TRIES):
                if genome.genes_hash not in seen:
                    break
                genome = random_genome(self.config.space, self._rng)
            seen.add(genome.genes_hash)
            out.append(genome.with_lineage(self.generation))
        return out

    def _tournament(self, ranking: Sequence[tuple[int, float, float]]) -> int:
        a = self._rng.randrange(len(ranking))
        b = self._rng.randrange(len(ranking))
        rank_a, crowd_a, combined_a = ranking[a]
        rank_b, crowd_b, combined_b = ranking[b]
        key_a, key_b = (-rank_a, crowd_a, combined_a), (-rank_b, crowd_b, combined_b)
        return b if key_b > key_a else a

    def _children(self, count: int, seen: set[str]) -> list[Genome]:
        parents = self.population
        ranking = [
            (rank, crowd, e.objectives.combined)
            for (rank, crowd), e in zip(ranks_and_crowding(parents, self.config.objectives),
                                        parents, strict=True)
        ]
        children: list[Genome] = []
        while len(children) < count:
            a = parents[self._tournament(ranking)].genome
            b = parents[self._tournament(ranking)].genome
            crossed = self._rng.random() < self.config.crossover_rate
            pair = crossover(a, b, self.config.space, self._rng) if crossed else (a, b)
            lineage = (a.identity, b.identity) if crossed else None
            for child, source in zip(pair, (a, b), strict=True):
                if len(children) < count:
                    child = self._varied(child, source, seen)
                    seen.add(child.genes_hash)
                    children.append(child.with_lineage(
                        self.generation, lineage or (source.identity,)))
        return children

    def _varied(self, child: Genome, source: Genome, seen: set[str]) -> Genome:
        """Mutate with `mutation_rate`, and until the child is new to the run (a few tries)."""
        config = self.config
        options = dict(param_rate=config.param_mutation_rate,
                       structure_rate=config.structure_mutation_rate)
        if self._rng.random() < config.mutation_rate or child.same_genes(source):
            child = mutate(child, config.space, self._rng, **options)
        for _ in range(UNIQUE_TRIES):
            if child.genes_hash not in seen:
                break
            child = mutate(child, config.space, self._rng, **options)
        return child

    # ------------------------------------------------------------------ tell

    def tell(self, evaluations: Sequence[Evaluation]) -> GenerationStats:
        """Complete the generation `ask` returned with its evaluations (same order)."""
        asked = self.ask()
        if [e.genome.genes_hash for e in evaluations] != [g.genes_hash for g in asked]:
            raise ValueError("tell() needs the evaluations of the asked genomes, in order")
        # the evaluations carry the lineage ask() gave, whatever the evaluator echoed back
        evaluated = [
            replace(e.without_returns(), genome=g) for g, e in zip(asked, evaluations, strict=True)
        ]
        population = self._survivors(evaluated)
        diversity = Diversity.of([e.genome for e in population])
        collapsed = diversity.collapsed(self.config.min_unique_ratio, self.config.min_mean_distance)
        immigrants_due = round(self.config.population * self.config.reseed_fraction) \
            if collapsed and self.generation + 1 < self.config.generations else 0
        stats = generation_stats(
            self.generation, evaluated, population, diversity,
            reseeded=len(self._immigrants), reseed_next=immigrants_due,
        )
        self._saved = Checkpoint(
            config=self.config,
            next_generation=self.generation + 1,
            rng_state=_rng_state(self._rng),
            population=tuple(population),
            hall_of_fame=self._saved.hall_of_fame.updated(evaluated),
            history=(*self._saved.history, stats),
            seen=(*self._saved.seen, *(e.genome.genes_hash for e in evaluated)),
            immigrants_due=immigrants_due,
        )
        self._pending = None
        self._immigrants = set()
        return stats

    def _survivors(self, evaluated: list[Evaluation]) -> list[Evaluation]:
        size = self.config.population
        immigrants = [e for e in evaluated if e.genome.genes_hash in self._immigrants]
        others = [e for e in evaluated if e.genome.genes_hash not in self._immigrants]
        pool = distinct([*self.population, *others])
        chosen = select_survivors(pool, size - len(immigrants), self.config.elite,
                                  self.config.objectives)
        return chosen + immigrants


Evaluator = Callable[[list[Genome]], Sequence[Evaluation]]


def run_evolution(
    config: GAConfig,
    evaluate: Evaluator,
    *,
    checkpoint: Checkpoint | None = None,
    on_generation: Callable[[Evolution, GenerationStats, Sequence[Evaluation]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Evolution:
    """Run (or resume) until every generation is done or `should_stop()` says so.

    `evaluate` scores a list of genomes (in-process, or fanned out to workers);
    `on_generation(evolution, stats, evaluations)` runs after each completed
    generation: store `evolution.checkpoint()` and append the evaluations
    (with their period returns) to the trial ledger there.
    """
    evolution = Evolution(config, checkpoint)
    while not evolution.done and not (should_stop is not None and should_stop()):
        genomes = evolution.ask()
        evaluations = list(evaluate(genomes))
        stats = evolution.tell(evaluations)
        if on_generation is not None:
            on_generation(evolution, stats, evaluations)
    return evolution
