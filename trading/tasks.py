"""Celery tasks of the trading app (thin: arguments are ids, work is in services)."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)

SYNC_MAX_RETRIES = 3


@shared_task(
    bind=True,
    name="trading.candles_sync",
    queue="default",
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
