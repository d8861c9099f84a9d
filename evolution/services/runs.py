"""Evolution runs: create, stop, resume, fail, and the stale-run check.

Guarantees:
- `evolution_run_create` validates every input first (`run_inputs_validate`: one
  `ValidationError` naming each bad field; nothing stored for bad input), stores
  a pending run with its engine configuration, and sends generation 0 to the
  Celery workers after commit (unless `enqueue=False`, e.g. for the serial runner);
- `evolution_run_stop`: a pending run stops at once; a running one finishes the
  generation it is evaluating, stores it, and stops (its strategies stay);
- `evolution_resume` restarts a stopped, failed or stuck run from its last
  completed generation (the engine checkpoint), or redoes its final validation;
  evaluation is deterministic, so the resumed run ends exactly where the
  uninterrupted run would have; a late collect of the abandoned dispatch is
  ignored (see `generations.py`);
- `evolution_stale_runs_resume` resumes Celery runs whose generation (or final
  validation) has been out longer than `stale_after` without completing;
- every state change publishes "evolution.generation" after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from evolution.lock_objects import evolution_run_lock
from evolution.market_data import candle_counts
from evolution.models import EvolutionRun
from evolution.run_config import RunInputs, engine_settings, run_inputs_validate
from evolution.services.events import run_event_publish
from organism.services import audit_record

log = logging.getLogger(__name__)
Status = EvolutionRun.Status
MAX_ERROR_CHARS = 4_000
DEFAULT_STALE_AFTER = timedelta(minutes=60)


class RunFinishedError(Exception):
    """The run has already finished; it cannot be stopped."""


class RunNotResumableError(Exception):
    """The run is completed, or still making progress."""


def _dataset_summary(inputs: RunInputs, windows: Mapping[str, Sequence[int]]) -> dict:
    ids = [i.pk for i in inputs.instruments]
    counts = {stage: candle_counts(ids, inputs.timeframe, start_ms=span[0], end_ms=span[1])
              for stage, span in windows.items()}
    return {"instruments": [
        {"id": i.pk, "exchange": i.exchange.code, "symbol": i.symbol,
         "market_type": i.market_type, "bars": {stage: counts[stage][i.pk] for stage in counts}}
        for i in inputs.instruments
    ]}


def evolution_run_create(*, user: Any, enqueue: bool = True, executor: str = "celery",
                         **values: Any) -> EvolutionRun:
    """Validate, store a pending run and (after commit) send its first generation.

    `values` are the keyword arguments of `run_config.run_inputs_validate`.
    """
    inputs = run_inputs_validate(**values)
    settings = engine_settings(inputs)
    windows = settings.windows.as_dict()
    with transaction.atomic():
        run = EvolutionRun.objects.create(
            name=inputs.name or f"{'+'.join(i.symbol for i in inputs.instruments)} "
                                f"{inputs.timeframe} seed {inputs.random_seed}",
            seeds=list(inputs.seeds), timeframe=inputs.timeframe, start=inputs.start,
            end=inputs.end, split=list(inputs.split), warmup_bars=inputs.warmup_bars,
            population=inputs.population, generations=inputs.generations,
            batch_size=inputs.batch_size, validate_top=inputs.validate_top,
            objectives=list(inputs.objectives), costs=dict(inputs.costs),
            random_seed=inputs.random_seed, ga_config=settings.ga.as_dict(),
            evaluation_config=settings.evaluation.as_dict(), windows=windows,
            dataset=_dataset_summary(inputs, windows), executor=executor,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            progress_message="queued",
        )
        run.instruments.set(inputs.instruments)
        audit_record(user=run.created_by, action="evolution.run.create", target=str(run.pk),
                     details={"population": run.population, "generations": run.generations})
        run_event_publish(run, "status")
        if enqueue and executor == EvolutionRun.Executor.CELERY:
            transaction.on_commit(partial(_send_generation, run.pk, 0))
    return run


def _send_generation(run_id: int, generation: int) -> None:
    from evolution.tasks import run_generation, send

    send(run_generation, run_id, generation)


def _may_control(run: EvolutionRun, user: Any) -> bool:
    return user is None or getattr(user, "is_staff", False) or run.created_by_id in (
        None, getattr(user, "pk", None))


def evolution_run_stop(*, run: EvolutionRun, user: Any = None) -> EvolutionRun:
    """Stop a pending run now, or a running one after the generation it is evaluating."""
    if not _may_control(run, user):
        raise PermissionDenied("only its creator or staff can stop a run")
    with transaction.atomic():
        locked = evolution_run_lock(run.pk)
        if locked is None or locked.is_finished:
            raise RunFinishedError(f"evolution run #{run.pk} has already finished")
        if locked.status == Status.PENDING:
            run_stopped_mark(locked, "stopped before it started")
        elif locked.finishing_started_at is not None:
            raise RunFinishedError(f"evolution run #{run.pk} is validating its results")
        else:
            locked.stop_requested = True
            locked.progress_message = "stopping after the current generation"
            locked.save(update_fields=["stop_requested", "progress_message"])
            run_event_publish(locked, "status")
        audit_record(user=user if getattr(user, "is_authenticated", False) else None,
                     action="evolution.run.stop", target=str(run.pk))
    return locked


def run_stopped_mark(run: EvolutionRun, message: str = "") -> None:
    """Mark a run stopped (caller holds its lock)."""
    run.status, run.finished_at = Status.STOPPED, timezone.now()
    run.stop_requested = False
    run.dispatched_generation, run.dispatched_at = None, None
    run.progress_message = message or f"stopped after generation {run.completed_generations}"
    run.save(update_fields=["status", "finished_at", "stop_requested", "dispatched_generation",
                            "dispatched_at", "progress_message"])
    run_event_publish(run, "status")


def evolution_run_fail(*, run_id: int, error: str) -> bool:
    """Record a failure that stops the run (its completed generations stay stored)."""
    with transaction.atomic():
        run = evolution_run_lock(run_id)
        if run is None or run.is_finished:
            return False
        run.status, run.finished_at = Status.FAILED, timezone.now()
        run.error_message = error[:MAX_ERROR_CHARS]
        run.dispatched_generation, run.dispatched_at = None, None
        run.progress_message = "failed"
        run.save(update_fields=["status", "finished_at", "error_message", "dispatched_generation",
                                "dispatched_at", "progress_message"])
        run_event_publish(run, "status")
    return True


def evolution_resume(*, run: EvolutionRun, user: Any = None, enqueue: bool = True
                     ) -> EvolutionRun:
    """Resume from the last completed generation (or redo the final validation)."""
    if not _may_control(run, user):
        raise PermissionDenied("only its creator or staff can resume a run")
    with transaction.atomic():
        locked = evolution_run_lock(run.pk)
        if locked is None or locked.status == Status.COMPLETED:
            raise RunNotResumableError(f"evolution run #{run.pk} has completed")
        finishing = locked.finishing_started_at is not None
        locked.status = Status.RUNNING if locked.started_at or finishing else Status.PENDING
        locked.finished_at, locked.error_message, locked.stop_requested = None, "", False
        locked.dispatched_generation, locked.dispatched_at = None, None
        locked.executor = EvolutionRun.Executor.CELERY
        locked.progress_message = f"resuming from generation {locked.completed_generations}"
        locked.save(update_fields=["status", "finished_at", "error_message", "stop_requested",
                                   "dispatched_generation", "dispatched_at", "executor",
                                   "progress_message"])
        run_event_publish(locked, "status")
        audit_record(user=user if getattr(user, "is_authenticated", False) else None,
                     action="evolution.run.resume", target=str(run.pk),
                     details={"from_generation": locked.completed_generations})
        if enqueue and finishing:
            from evolution.services.finish import finish_dispatch

            finish_dispatch(locked)
        elif enqueue:
            transaction.on_commit(partial(_send_generation, locked.pk,
                                          locked.completed_generations))
    return locked


def stale_runs(*, now: datetime | None = None,
               stale_after: timedelta = DEFAULT_STALE_AFTER) -> list[EvolutionRun]:
    """Celery runs whose generation or validation has been out longer than `stale_after`."""
    cutoff = (now or timezone.now()) - stale_after
    return list(EvolutionRun.objects.filter(
        Q(dispatched_at__lt=cutoff) | Q(finishing_started_at__lt=cutoff),
        status=Status.RUNNING, executor=EvolutionRun.Executor.CELERY,
    ).order_by("pk"))


def evolution_stale_runs_resume(*, now: datetime | None = None,
                                stale_after: timedelta = DEFAULT_STALE_AFTER) -> list[int]:
    """Resume every stale run; returns their ids."""
    resumed = []
    for run in stale_runs(now=now, stale_after=stale_after):
        log.warning("evolution run %s looks stuck (generation %s out since %s); resuming",
                    run.pk, run.dispatched_generation, run.dispatched_at)
        evolution_resume(run=run)
        resumed.append(run.pk)
    return resumed
