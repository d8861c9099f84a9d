"""Run an evolution in this process, without Celery (the `evolve --serial` path).

Guarantees: the run is claimed pending -> running with a conditional UPDATE (a
run already taken by workers is refused); each generation is evaluated with the
engine's `evaluate_genomes` on the same dataset the workers would load, and
stored by the same `generation_store` under the run's row lock; the final
validation and DSR/PBO use the same services as the Celery path. So a serial
run and a distributed run with the same configuration store the same results.
A stop request is honoured between generations; Ctrl-C marks the run stopped;
any other exception marks it failed and is re-raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from django.db import transaction
from django.utils import timezone

from evolution.engine.datasets import DATASETS
from evolution.engine.evaluation import Evaluation, evaluate_genomes
from evolution.engine.ga import Evolution, run_evolution
from evolution.engine.generation_stats import GenerationStats
from evolution.lock_objects import evolution_run_lock
from evolution.models import EvolutionRun
from evolution.run_config import RunEngine
from evolution.services.events import run_event_publish
from evolution.services.finish import (
    finish_dispatch,
    run_finish,
    strategy_validation_compute,
    validation_targets,
)
from evolution.services.generations import evolution_of, generation_store
from evolution.services.runs import RunNotResumableError, evolution_run_fail, run_stopped_mark

Status = EvolutionRun.Status
GenerationCallback = Callable[[EvolutionRun, GenerationStats], None]


def _claim(run_id: int) -> EvolutionRun:
    now = timezone.now()
    with transaction.atomic():
        claimed = EvolutionRun.objects.filter(pk=run_id, status=Status.PENDING).update(
            status=Status.RUNNING, executor=EvolutionRun.Executor.SERIAL, started_at=now,
            progress_message="evaluating generation 1 in-process",
        )
        if claimed != 1:
            raise RunNotResumableError(f"evolution run #{run_id} is not pending")
        run = EvolutionRun.objects.get(pk=run_id)
        run_event_publish(run, "status")
    return run


def _stop_requested(run_id: int) -> bool:
    return not EvolutionRun.objects.filter(pk=run_id, status=Status.RUNNING,
                                           stop_requested=False).exists()


class _GenerationWriter:
    """The `on_generation` callback of `run_evolution`: store each generation."""

    def __init__(self, run_id: int, callback: GenerationCallback | None):
        self.run_id = run_id
        self.callback = callback
        self.since = time.perf_counter()

    def __call__(self, evolution: Evolution, stats: GenerationStats,
                 evaluations: Sequence[Evaluation]) -> None:
        duration = time.perf_counter() - self.since
        with transaction.atomic():
            run = evolution_run_lock(self.run_id)
            if run is None or run.status != Status.RUNNING:
                raise RunNotResumableError(f"evolution run #{self.run_id} is no longer running")
            genomes = [e.genome for e in evaluations]
            generation_store(run, evolution, genomes, stats, evaluations, duration)
            if run.stop_requested:
                run_stopped_mark(run)
        if self.callback is not None:
            self.callback(run, stats)
        self.since = time.perf_counter()


def _finish(run_id: int) -> None:
    with transaction.atomic():
        run = evolution_run_lock(run_id)
        assert run is not None
        finish_dispatch(run)
        targets = validation_targets(run)
    results = [strategy_validation_compute(run_id=run_id, identity=i) for i in targets]
    run_finish(run_id=run_id, results=results)


def evolution_run_serial(*, run_id: int, on_generation: GenerationCallback | None = None,
                         ) -> EvolutionRun:
    """Run a pending run to its end in this process (see the module docstring)."""
    run = _claim(run_id)
    try:
        engine = RunEngine.of(run)
        dataset = DATASETS.get(engine.in_sample.key)
        evolution = run_evolution(
            engine.ga, lambda genomes: evaluate_genomes(genomes, dataset, engine.evaluation),
            checkpoint=evolution_of(run, engine).checkpoint() if run.checkpoint else None,
            on_generation=_GenerationWriter(run_id, on_generation),
            should_stop=lambda: _stop_requested(run_id),
        )
        if evolution.done:
            _finish(run_id)
    except KeyboardInterrupt:
        with transaction.atomic():
            locked = evolution_run_lock(run_id)
            if locked is not None and not locked.is_finished:
                run_stopped_mark(locked, "interrupted")
        raise
    except Exception as exc:
        evolution_run_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        raise
    return EvolutionRun.objects.get(pk=run_id)
