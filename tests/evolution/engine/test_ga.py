"""The NSGA-II GA: reproducible, resumable, batch-independent, and it improves."""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence

import pytest

from evolution.engine.datasets import DATASETS, Dataset
from evolution.engine.evaluation import (
    Evaluation,
    EvaluationConfig,
    clear_lookahead_cache,
    evaluate_batch,
    evaluate_genomes,
)
from evolution.engine.ga import Checkpoint, Evolution, GAConfig, run_evolution
from evolution.engine.genome import Genome
from evolution.engine.operators import GenomeSpace
from evolution.engine.trial_ledger import TrialLedger
from tests.evolution.engine.ga_fixtures import extra_seeds, fast_space, real_dataset  # noqa: F401

CONFIG = EvaluationConfig()


@pytest.fixture(scope="module")
def small() -> Dataset:
    return real_dataset(("BTCUSDT", "ETHUSDT"), "2022-01-01", "2022-05-01")


def serial(dataset: Dataset):
    return lambda genomes: evaluate_genomes(genomes, dataset, CONFIG)


def in_batches(dataset: Dataset, size: int):
    """What the Celery fan-out does: JSON batches of `size`, gathered back in order."""
    DATASETS.put(dataset)

    def evaluate(genomes: list[Genome]) -> list[Evaluation]:
        rows = []
        for first in range(0, len(genomes), size):
            batch = json.loads(json.dumps([g.to_dict() for g in genomes[first:first + size]]))
            rows += json.loads(json.dumps(evaluate_batch(batch, dataset.key, CONFIG.as_dict())))
        return [Evaluation.from_dict(r) for r in rows]

    return evaluate


def summary(evolution: Evolution) -> dict:
    return evolution.checkpoint().to_dict()


def test_a_checkpoint_pickles_too(small):
    # given
    evolution = run_evolution(GAConfig(space=fast_space(), population=6, generations=2, seed=1),
                              serial(small))

    # when
    restored = pickle.loads(pickle.dumps(evolution.checkpoint()))

    # then
    assert restored.to_dict() == evolution.checkpoint().to_dict()


def test_the_same_seed_gives_the_same_run_and_another_seed_another(small):
    # given
    config = GAConfig(space=fast_space(), population=10, generations=3, seed=7)

    # when
    first = run_evolution(config, serial(small))
    second = run_evolution(config, serial(small))
    other = run_evolution(GAConfig(space=fast_space(), population=10, generations=3, seed=8),
                          serial(small))

    # then
    assert summary(first) == summary(second)
    assert [e.genome.identity for e in first.population] != \
        [e.genome.identity for e in other.population]


def test_serial_and_batched_json_evaluation_give_identical_runs(small):
    # given
    config = GAConfig(space=fast_space(), population=12, generations=3, seed=11)

    # when: in-process, then batches of 1 and of 7 through the JSON task entry point
    # (each run starting from a cold cache, as a fresh worker would)
    clear_lookahead_cache()
    reference = run_evolution(config, serial(small))
    clear_lookahead_cache()
    ones = run_evolution(config, in_batches(small, 1))
    clear_lookahead_cache()
    sevens = run_evolution(config, in_batches(small, 7))

    # then
    assert summary(reference) == summary(ones) == summary(sevens)


def test_a_run_resumes_from_a_json_checkpoint_exactly(small):
    # given
    config = GAConfig(space=fast_space(), population=10, generations=4, seed=3)
    uninterrupted = run_evolution(config, serial(small))
    saved: list[dict] = []

    def stop_after_two() -> bool:
        return len(saved) == 2

    def keep(evolution: Evolution, *_: object) -> None:
        saved.append(json.loads(json.dumps(evolution.checkpoint().to_dict())))

    # when: the run stops after two generations, the worker "dies", a new one resumes
    run_evolution(config, serial(small), on_generation=keep, should_stop=stop_after_two)
    resumed = run_evolution(config, serial(small), checkpoint=Checkpoint.from_dict(saved[-1]))

    # then
    assert saved[-1]["next_generation"] == 2
    assert summary(resumed) == summary(uninterrupted)


def test_asking_twice_gives_the_same_genomes_and_tell_checks_them(small):
    # given
    evolution = Evolution(GAConfig(space=fast_space(), population=8, generations=2, seed=1))

    # when
    asked = evolution.ask()

    # then
    assert [g.identity for g in evolution.ask()] == [g.identity for g in asked]
    with pytest.raises(ValueError, match="in order"):
        evolution.tell(evaluate_genomes(asked[::-1], small, CONFIG))
    evolution.tell(evaluate_genomes(asked, small, CONFIG))
    children = evolution.ask()
    assert all(g.generation == 1 and 1 <= len(g.parents) <= 2 for g in children)
    assert {p for g in children for p in g.parents} <= {g.identity for g in asked}


def test_best_combined_fitness_rises_across_generations():
    # given: population 16 x 5 generations on BTC + ETH 1h, 2021-2022
    dataset = real_dataset(("BTCUSDT", "ETHUSDT"), "2021-01-01", "2023-01-01")
    config = GAConfig(space=fast_space(), population=16, generations=5, seed=42)
    ledger = TrialLedger()

    # when
    evolution = run_evolution(
        config, serial(dataset), on_generation=lambda e, s, evs: ledger.append(s.generation, evs)
    )

    # then: elitism never loses the best, and evolution finds better than the random start
    best = [s.best_combined for s in evolution.history]
    assert all(later >= earlier for earlier, later in zip(best, best[1:], strict=False))
    assert best[-1] > best[0]
    assert len(ledger) == 16 * 5
    top = evolution.hall_of_fame.best[0]
    assert top.ok and top.objectives.combined == pytest.approx(best[-1])


def test_generation_statistics_follow_each_objectives_direction(small):
    # when
    evolution = run_evolution(GAConfig(space=fast_space(), population=10, generations=2, seed=5),
                              serial(small))

    # then
    for stats in evolution.history:
        for name in ("sharpe", "consistency", "combined"):
            spread = stats.objectives[name]
            assert spread["best"] >= spread["median"] >= spread["worst"]
        for name in ("max_drawdown", "turnover"):
            spread = stats.objectives[name]
            assert spread["best"] <= spread["median"] <= spread["worst"]
        assert 0 < stats.diversity.unique_ratio <= 1
        assert stats.evaluated == 10


@pytest.mark.usefixtures("extra_seeds")
def test_failing_genomes_never_stop_the_run(small):
    # given: a third of the entry seeds crash or peek at the future
    space = GenomeSpace.from_seeds(("ema_crossover", "crashing", "peeking", "sma_trend_filter"))

    # when
    evolution = run_evolution(GAConfig(space=space, population=12, generations=3, seed=2),
                              serial(small))

    # then: the run completes, failures are counted by kind and none is in the hall of fame
    first = evolution.history[0]
    assert first.failed > 0 and set(first.failure_reasons) <= {"crashed", "lookahead",
                                                                "never traded"}
    assert all(e.ok and e.genome.entry.seed == "ema_crossover"
               for e in evolution.hall_of_fame.best + evolution.hall_of_fame.pareto)
    last = evolution.history[-1]
    assert last.objectives["combined"]["best"] is not None


def test_a_collapsed_population_is_reseeded_with_random_immigrants(small):
    # given: a diversity floor no population can meet
    config = GAConfig(space=fast_space(), population=8, generations=3, seed=9,
                      min_mean_distance=1.0, reseed_fraction=0.25)

    # when
    evolution = run_evolution(config, serial(small))

    # then: two immigrants were due after each generation and entered the population
    history = evolution.history
    assert history[0].reseed_next == 2 and history[1].reseeded == 2
    assert history[-1].reseed_next == 0  # nothing is due after the last generation
    newest = [e for e in evolution.population if e.genome.generation == 2 and not e.genome.parents]
    assert len(newest) == 2


def test_the_hall_of_fame_is_a_pareto_front_of_valid_genomes(small):
    # when
    evolution = run_evolution(GAConfig(space=fast_space(), population=10, generations=3, seed=4),
                              serial(small))
    front = evolution.hall_of_fame.pareto

    # then: no member dominates another
    def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
        signed_a = (a[0], a[1], -a[2], -a[3])
        signed_b = (b[0], b[1], -b[2], -b[3])
        return all(x >= y for x, y in zip(signed_a, signed_b, strict=True)) and signed_a != signed_b

    values = [e.objectives.values() for e in front]
    assert front and all(not dominates(a, b) for a in values for b in values)
    assert len({e.genome.genes_hash for e in front}) == len(front)
