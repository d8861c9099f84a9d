"""Celery tasks of the backtests app (thin: the argument is an id, the work is in services)."""

from __future__ import annotations

from celery import shared_task

# A year of 1h bars runs in seconds; a million bars with 10,000 Monte Carlo paths and a
# walk-forward grid in minutes. The soft limit lets the service record the failure.
BACKTEST_TIME_LIMIT = 3600
BACKTEST_SOFT_TIME_LIMIT = BACKTEST_TIME_LIMIT - 60


@shared_task(
    name="backtests.run",
    time_limit=BACKTEST_TIME_LIMIT,
    soft_time_limit=BACKTEST_SOFT_TIME_LIMIT,
    acks_late=True,
)
def backtest_run(session_id: int) -> None:
    """Run a pending session. Idempotent: the service claims it pending -> running, so a
    duplicate or redelivered message finds nothing to do."""
    from backtests.services import backtest_execute

    backtest_execute(session_id=session_id)


@shared_task(name="backtests.recover", time_limit=120)
def backtests_recover_task() -> dict:
    """Beat: requeue sessions whose worker died or whose message was lost."""
    from backtests.services import backtests_recover

    return backtests_recover(stale_after_s=BACKTEST_TIME_LIMIT + 300)
