"""Celery tasks of the trading app (thin: arguments are ids, work is in services)."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)

SYNC_MAX_RETRIES = 3


@shared_task(
    bind=True,
    name="trading.candles_sync",
    time_limit=900,
    soft_time_limit=840,
    max_retries=SYNC_MAX_RETRIES,
    acks_late=True,
)
def candles_sync(self, instrument_ids: list[int] | None = None, timeframe: str | None = None):
    """Fetch new closed candles for active instruments. Idempotent: stored candles are
    keys, so running twice (or concurrently) stores each candle once.

    Instruments whose exchange was unreachable (TemporaryError) are retried with
    backoff; when the retries run out the task logs it and returns, it does not fail.
    """
    from trading.services.fetch import candles_sync as sync

    outcomes = sync(instrument_ids=instrument_ids, timeframe=timeframe)
    unreachable = sorted({o.instrument_id for o in outcomes if o.status == "temporary_error"})
    if unreachable and self.request.retries < self.max_retries:
        raise self.retry(
            kwargs={"instrument_ids": unreachable, "timeframe": timeframe},
            countdown=60 * 2**self.request.retries,
        )
    if unreachable:
        log.warning("candle sync: exchange still unreachable for instruments %s after %d "
                    "retries; the next scheduled run resumes", unreachable, self.request.retries)
    return {
        "outcomes": [
            {"instrument_id": o.instrument_id, "timeframe": o.timeframe, "status": o.status,
             "inserted": o.inserted, "message": o.message[:300]}
            for o in outcomes
        ],
    }


STEP_TIME_LIMIT = 90  # well under the session lease (120 s): a step never outlives its claim
STEP_MAX_RETRIES = 5


@shared_task(
    bind=True,
    name="trading.session_step",
    time_limit=STEP_TIME_LIMIT,
    soft_time_limit=STEP_TIME_LIMIT - 10,
    max_retries=STEP_MAX_RETRIES,
    acks_late=True,
)
def session_step(self, session_id: int) -> dict:
    """Process a trading session's next candles. Idempotent: the step claims the session
    with a conditional UPDATE (a duplicate finds it claimed or not due), and its journal
    writes are keyed by engine identities. Retried only on TemporaryError."""
    from django.utils import timezone

    from trading.services.session_loop import StepDeferred
    from trading.services.session_loop import session_step as step

    try:
        result = step(session_id=session_id)
    except StepDeferred as exc:  # a TemporaryError: the session is due again at exc.retry_at
        if self.request.retries >= self.max_retries or exc.retry_at is None:
            log.warning("session %s: giving up retries (%s); sessions_tick resumes it",
                        session_id, exc)
            return {"outcome": "temporary_error"}
        wait = max(1.0, (exc.retry_at - timezone.now()).total_seconds())
        raise self.retry(exc=exc, countdown=wait) from exc
    return {"outcome": result.outcome, "candles": result.candles, "status": result.status}


@shared_task(name="trading.sessions_tick", time_limit=60, acks_late=True)
def sessions_tick() -> dict:
    """Beat: enqueue a step for sessions whose step chain was lost (a killed worker)."""
    from trading.services.session_loop import sessions_tick as tick

    return {"enqueued": tick()}
