"""The distributed path: Celery tasks fan each generation out and collect it, idempotently;
a run interrupted mid-generation resumes to the same result; serial == distributed.

Celery runs eagerly here (every task in-process, chords included): the same task code the
workers run, without a broker.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evolution.batching import balanced_batches, genome_cost
from evolution.engine.datasets import DATASETS
from evolution.engine.evaluation import EvaluationConfig, evaluate_genomes
from evolution.engine.ga import Evolution, GAConfig, run_evolution
from evolution.engine.operators import GenomeSpace
from evolution.models import EvolutionRun, GenerationStat, Strategy, Trial
from evolution.run_config import RunEngine
from evolution.services import (
    evolution_resume,
    evolution_run_create,
    evolution_run_serial,
    evolution_stale_runs_resume,
    generation_dispatch,
)
from evolution.tasks import collect_generation, evaluate_batch, stale_runs_check
from trading.models import Candle

STAT_FIELDS = ("generation", "evaluated", "failed", "failure_reasons", "objectives",
               "best_combined", "median_combined", "unique_ratio", "mean_distance", "reseeded",
               "reseed_next", "best_identity")
TRIAL_FIELDS = ("generation", "position", "identity", "genes_hash", "objectives", "reason",
                "period_origin_ms", "period_returns")


def outcome(run: EvolutionRun) -> dict:
    """Everything a run stores that must not depend on how it was executed."""
    run.refresh_from_db()
    return {
        "status": run.status,
        "generations": list(GenerationStat.objects.filter(run=run).values(*STAT_FIELDS)),
        "trials": list(Trial.objects.filter(run=run).values(*TRIAL_FIELDS)),
        "checkpoint": run.checkpoint,
        "hall_of_fame": run.hall_of_fame,
        "validation": run.validation,
        "overfitting": run.overfitting,
        "best_combined": run.best_combined,
    }


def distributed(run_kwargs, capture, **overrides) -> EvolutionRun:
    with capture(execute=True):
        run = evolution_run_create(**run_kwargs(**overrides))
    run.refresh_from_db()
    return run


def serial(run_kwargs, **overrides) -> EvolutionRun:
    run = evolution_run_create(**run_kwargs(**overrides), enqueue=False)
    return evolution_run_serial(run_id=run.pk)


def generation_by_hand(run: EvolutionRun, generation: int, capture, *, collect: bool = True):
    """What the workers do for one generation, with the follow-up messages dropped."""
    with capture(execute=False):
        plan = generation_dispatch(run_id=run.pk, generation=generation)
    assert plan is not None
    results = [evaluate_batch(run.pk, generation, list(batch), plan.dataset_key,
                              dict(plan.evaluation_config)) for batch in plan.batches]
    if collect:
        with capture(execute=False):
            collect_generation(results, run.pk, generation)
    return plan, results


def test_serial_and_distributed_runs_with_the_same_seed_store_the_same_results(
        run_kwargs, eager, django_capture_on_commit_callbacks):
    # when the same configuration runs on Celery (eager) and in-process
    on_celery = distributed(run_kwargs, django_capture_on_commit_callbacks, random_seed=21)
    in_process = serial(run_kwargs, random_seed=21)
    # then both completed with identical generations, trials, checkpoints, validation
    assert on_celery.executor == "celery" and in_process.executor == "serial"
    assert outcome(on_celery)["status"] == "completed"
    assert outcome(on_celery) == outcome(in_process)
    # and the engine alone, fed the same dataset, ends in the same checkpoint
    engine = RunEngine.of(on_celery)
    dataset = DATASETS.get(engine.in_sample.key)
    alone = run_evolution(GAConfig.from_dict(on_celery.ga_config),
                          lambda genomes: evaluate_genomes(
                              genomes, dataset, EvaluationConfig.from_dict(
                                  on_celery.evaluation_config)))
    assert alone.checkpoint().to_dict() == on_celery.checkpoint
    # a genome both runs found is one strategy, evaluated by both
    shared = Strategy.objects.filter(run=on_celery).first()
    assert set(shared.trials.values_list("run_id", flat=True)) == {on_celery.pk, in_process.pk}


def test_a_redelivered_collect_changes_nothing(run_kwargs, eager,
                                               django_capture_on_commit_callbacks):
    # given a generation that was collected
    run = evolution_run_create(**run_kwargs(), enqueue=False)
    _, results = generation_by_hand(run, 0, django_capture_on_commit_callbacks)
    before = outcome(run)
    # when its collect message is delivered again
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        collect_generation(results, run.pk, 0)
    # then nothing was stored twice and nothing was sent
    assert outcome(run) == before and not callbacks
    assert Trial.objects.filter(run=run).count() == run.population


def test_a_duplicated_generation_message_fans_out_once(run_kwargs,
                                                       django_capture_on_commit_callbacks):
    run = evolution_run_create(**run_kwargs(), enqueue=False)
    with django_capture_on_commit_callbacks(execute=False) as first:
        assert generation_dispatch(run_id=run.pk, generation=0) is not None
    with django_capture_on_commit_callbacks(execute=False) as second:
        assert generation_dispatch(run_id=run.pk, generation=0) is None
        assert generation_dispatch(run_id=run.pk, generation=1) is None  # not due yet
    assert len(first) == 2 and not second  # the event and the chord; then nothing
    run.refresh_from_db()
    assert run.status == "running" and run.dispatched_generation == 0


def test_a_run_resumed_after_a_worker_died_mid_generation_ends_like_an_uninterrupted_one(
        run_kwargs, eager, django_capture_on_commit_callbacks):
    # given a run whose worker died while evaluating generation 2 (two generations stored)
    crashed = evolution_run_create(**run_kwargs(generations=4, random_seed=8), enqueue=False)
    generation_by_hand(crashed, 0, django_capture_on_commit_callbacks)
    generation_by_hand(crashed, 1, django_capture_on_commit_callbacks)
    plan, _ = generation_by_hand(crashed, 2, django_capture_on_commit_callbacks, collect=False)
    crashed.refresh_from_db()
    assert crashed.completed_generations == 2 and crashed.dispatched_generation == 2
    # when it is resumed from its checkpoint
    with django_capture_on_commit_callbacks(execute=True):
        evolution_resume(run=crashed)
    # then it ends exactly where an uninterrupted run ends
    uninterrupted = distributed(run_kwargs, django_capture_on_commit_callbacks, generations=4,
                                random_seed=8)
    assert outcome(crashed)["status"] == "completed"
    assert outcome(crashed) == outcome(uninterrupted)
    # and the abandoned dispatch's late collect is ignored
    results = [evaluate_batch(crashed.pk, 2, list(b), plan.dataset_key,
                              dict(plan.evaluation_config)) for b in plan.batches]
    collect_generation(results, crashed.pk, 2)
    assert outcome(crashed) == outcome(uninterrupted)


def test_stale_runs_are_resumed_by_the_periodic_check(run_kwargs, eager,
                                                      django_capture_on_commit_callbacks):
    # given a run stuck in generation 1 for two hours, and one dispatched a minute ago
    stuck = evolution_run_create(**run_kwargs(), enqueue=False)
    generation_by_hand(stuck, 0, django_capture_on_commit_callbacks)
    generation_by_hand(stuck, 1, django_capture_on_commit_callbacks, collect=False)
    EvolutionRun.objects.filter(pk=stuck.pk).update(
        dispatched_at=timezone.now() - timedelta(hours=2))
    fresh = evolution_run_create(**run_kwargs(), enqueue=False)
    with django_capture_on_commit_callbacks(execute=False):
        generation_dispatch(run_id=fresh.pk, generation=0)
    # when the beat task runs
    with django_capture_on_commit_callbacks(execute=True):
        resumed = stale_runs_check()
    # then only the stuck run resumed, and it completed
    assert resumed == [stuck.pk]
    stuck.refresh_from_db()
    assert stuck.status == "completed" and stuck.completed_generations == stuck.generations
    assert evolution_stale_runs_resume(now=timezone.now()) == []


def test_a_run_whose_data_disappeared_fails_with_the_reason(run_kwargs, eager, markets,
                                                            django_capture_on_commit_callbacks):
    # given the ETH candles were deleted after the run was queued
    with django_capture_on_commit_callbacks(execute=False):
        run = evolution_run_create(**run_kwargs())
    Candle.objects.filter(instrument=markets[1]).delete()
    DATASETS.clear()
    # when the workers pick it up
    with pytest.raises(ValueError), django_capture_on_commit_callbacks(execute=True):
        from evolution.tasks import run_generation

        run_generation(run.pk, 0)
    # then the run failed with the reason, and nothing was stored
    run.refresh_from_db()
    assert run.status == "failed" and "evolution.evaluate_batch" in run.error_message
    assert "ETH/USDT" in run.error_message or "window" in run.error_message
    assert not GenerationStat.objects.filter(run=run).exists()


def test_batches_spread_the_slow_genomes_and_keep_every_genome_once():
    # given a random population of all 12 seeds (the scikit-learn ones are ~100x slower)
    genomes = Evolution(GAConfig(space=GenomeSpace.from_seeds(), population=60, seed=4)).ask()
    rows = [g.to_dict() for g in genomes]
    slow = [r for r in rows if genome_cost(r) > 50]
    assert 0 < len(slow) < 15
    # when
    batches = balanced_batches(rows, 4)
    # then every genome is in one batch of at most 4, no batch holds two slow genomes,
    # the slow batches go first, and the same input always gives the same batches
    assert len(batches) == 15 and all(len(b) <= 4 for b in batches)
    assert sorted(r["entry"]["seed"] + str(r["entry"]["params"]) for b in batches for r in b) \
        == sorted(r["entry"]["seed"] + str(r["entry"]["params"]) for r in rows)
    per_batch = [sum(genome_cost(r) > 50 for r in b) for b in batches]
    assert max(per_batch) == 1 and per_batch == sorted(per_batch, reverse=True)
    assert balanced_batches(rows, 4) == batches
