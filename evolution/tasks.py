"""Celery tasks of the evolution app (thin: JSON arguments, the work is in services).

Flow of a run on the `evolution` queue:
    run_generation(run, g) -> chord(evaluate_batch x N) -> collect_generation(run, g)
        -> run_generation(run, g + 1) ... -> chord(validate_strategy x K) -> finish_run(run)
Every task is sent to the `evolution` queue (`send`, `on_queue`; beat entries name
it too). Every step is idempotent: a generation is claimed with a conditional UPDATE and
stored at most once (under the run's row lock), so duplicated or redelivered
messages change nothing. Batch and validation tasks are `acks_late` with
`reject_on_worker_lost`: if the worker dies, the message is redelivered; if a
generation still never completes, `stale_runs_check` resumes the run from its
last completed generation. Only `TemporaryError` is retried; any other error
marks the run failed (its completed generations stay stored).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from celery import shared_task
from django.core.exceptions import ValidationError

from organism.errors import TemporaryError

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_SECONDS = 15
MAX_RETRIES = 5
DISPATCH_TIME_LIMIT = 300
BATCH_TIME_LIMIT = 1800  # ML seeds refit scikit-learn models walk-forward: minutes per batch
COLLECT_TIME_LIMIT = 600
VALIDATE_TIME_LIMIT = 1800
FINISH_TIME_LIMIT = 600
SOFT_MARGIN = 30
QUEUE = "evolution"  # every evolution task is sent there (see `send`)


def send(task: Any, *args: Any) -> None:
    """Send `task(*args)` to the evolution queue."""
    task.apply_async(args=args, queue=QUEUE)


def on_queue(signature: Any) -> Any:
    """A signature routed to the evolution queue (for groups and chords)."""
    return signature.set(queue=QUEUE)


def _run_or_fail(task: Any, run_id: int, work: Callable[[], T]) -> T:
    """Run `work`; retry on TemporaryError; any other error marks the run failed."""
    try:
        return work()
    except TemporaryError as exc:
        raise task.retry(exc=exc, countdown=RETRY_SECONDS, max_retries=MAX_RETRIES) from exc
    except Exception as exc:
        from evolution.services import evolution_run_fail

        log.exception("evolution run %s: %s failed", run_id, task.name)
        evolution_run_fail(run_id=run_id, error=f"{task.name}: {type(exc).__name__}: {exc}")
        raise


@shared_task(bind=True, name="evolution.run_generation", acks_late=True,
             ignore_result=True, time_limit=DISPATCH_TIME_LIMIT,
             soft_time_limit=DISPATCH_TIME_LIMIT - SOFT_MARGIN)
def run_generation(self, run_id: int, generation: int) -> None:
    """Claim generation `generation` of the run and fan its genomes out."""
    from evolution.services import generation_dispatch

    _run_or_fail(self, run_id, lambda: generation_dispatch(run_id=run_id, generation=generation))


@shared_task(bind=True, name="evolution.evaluate_batch", acks_late=True,
             reject_on_worker_lost=True, time_limit=BATCH_TIME_LIMIT,
             soft_time_limit=BATCH_TIME_LIMIT - SOFT_MARGIN)
def evaluate_batch(self, run_id: int, generation: int, genomes: list[dict[str, Any]],
                   dataset_key: str, evaluation_config: dict[str, Any]) -> list[dict[str, Any]]:
    """Evaluate a batch of genome dicts; returns their evaluation dicts (same order)."""
    from evolution.services import generation_batch_evaluate

    return _run_or_fail(self, run_id, lambda: generation_batch_evaluate(
        run_id=run_id, generation=generation, genomes=genomes, dataset_key=dataset_key,
        evaluation_config=evaluation_config))


@shared_task(bind=True, name="evolution.collect_generation", acks_late=True,
             ignore_result=True, time_limit=COLLECT_TIME_LIMIT,
             soft_time_limit=COLLECT_TIME_LIMIT - SOFT_MARGIN)
def collect_generation(self, results: Sequence[Sequence[dict[str, Any]]], run_id: int,
                       generation: int) -> None:
    """The chord callback: store the generation (once) and send the next step."""
    from evolution.services import generation_complete

    rows = [row for batch in results for row in batch]
    _run_or_fail(self, run_id, lambda: generation_complete(run_id=run_id, generation=generation,
                                                           rows=rows))


@shared_task(bind=True, name="evolution.validate_strategy", acks_late=True,
             reject_on_worker_lost=True, time_limit=VALIDATE_TIME_LIMIT,
             soft_time_limit=VALIDATE_TIME_LIMIT - SOFT_MARGIN)
def validate_strategy(self, run_id: int, identity: str) -> dict[str, Any]:
    """IS / OOS / WF validation and the thorough lookahead check of one strategy."""
    from evolution.services import strategy_validation_compute

    return _run_or_fail(self, run_id, lambda: strategy_validation_compute(run_id=run_id,
                                                                          identity=identity))


@shared_task(bind=True, name="evolution.finish_run", acks_late=True,
             ignore_result=True, time_limit=FINISH_TIME_LIMIT,
             soft_time_limit=FINISH_TIME_LIMIT - SOFT_MARGIN)
def finish_run(self, results: Sequence[dict[str, Any]], run_id: int) -> None:
    """Store the validations, the run's deflated Sharpe and PBO; the run is completed."""
    from evolution.services import run_finish

    _run_or_fail(self, run_id, lambda: run_finish(run_id=run_id, results=list(results)))


@shared_task(name="evolution.stale_runs_check", ignore_result=True,
             time_limit=120)
def stale_runs_check(stale_after_minutes: int = 60) -> list[int]:
    """Resume runs whose generation has been out for too long (a worker died)."""
    from evolution.services import evolution_stale_runs_resume

    return evolution_stale_runs_resume(stale_after=timedelta(minutes=stale_after_minutes))


@shared_task(name="evolution.scheduled_run", ignore_result=True,
             time_limit=120)
def scheduled_run(**config: Any) -> int | None:
    """Start the scheduled evolution run configured in the beat entry's kwargs."""
    from evolution.services import evolution_scheduled_run

    try:
        return evolution_scheduled_run(**config).pk
    except ValidationError as exc:
        log.warning("scheduled evolution not started: %s", "; ".join(exc.messages))
        return None
