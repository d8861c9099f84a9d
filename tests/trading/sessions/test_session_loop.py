"""The loop: leases, steps, crash and resume, scheduling, the beat watchdog."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.trading.sessions.conftest import (
    REPLAY_START_MS,
    journal_snapshot,
    make_session,
    step,
)
from trading.models import (
    DecisionRecord,
    EquitySnapshot,
    FillRecord,
    OrderRecord,
    TradingSession,
)
from trading.services.session_loop import (
    LEASE_SECONDS,
    session_claim,
    session_release,
    session_step,
    sessions_tick,
)

HOUR_MS = 3_600_000


class WorkerKilled(BaseException):
    """Stands for kill -9: nothing in the worker gets to handle it."""


def _crash_on_checkpoint_write(execute, sql, params, many, context):
    if sql.startswith('UPDATE "trading_tradingsession"') and '"checkpoint" =' in sql:
        raise WorkerKilled("killed between the engine step and the commit")
    return execute(sql, params, many, context)


def test_a_step_processes_the_next_candles_and_commits_journal_and_checkpoint(btc):
    # given
    session = make_session([btc], candles_per_step=5)
    # when
    result = step(session)
    # then
    session.refresh_from_db()
    assert result.outcome == "stepped" and result.candles == 5
    assert session.checkpoint_seq == 1 and session.checkpoint is not None
    assert session.last_candle_ms == REPLAY_START_MS + 4 * HOUR_MS
    assert session.heartbeat_at is not None and session.claimed_by == ""
    assert DecisionRecord.objects.filter(session=session).count() == 5
    closes = list(EquitySnapshot.objects.filter(session=session).values_list("ts_ms", flat=True))
    assert closes == [REPLAY_START_MS + (i + 1) * HOUR_MS for i in range(5)]
    assert result.next_step_at is not None and session.status == "running"


def test_the_next_step_continues_after_the_last_processed_candle(btc):
    # given
    session = make_session([btc], candles_per_step=3)
    step(session)
    # when
    step(session)
    # then
    decisions = DecisionRecord.objects.filter(session=session).order_by("ts_ms")
    times = list(decisions.values_list("ts_ms", flat=True))
    assert times == [REPLAY_START_MS + (i + 1) * HOUR_MS for i in range(6)]


def test_a_claimed_session_is_not_stepped_by_another_worker(btc):
    # given
    session = make_session([btc])
    assert session_claim(session_id=session.pk, worker="worker-1")
    # when
    result = session_step(session_id=session.pk, worker="worker-2", schedule=False)
    # then
    assert result.outcome == "not_claimed"
    assert DecisionRecord.objects.filter(session=session).count() == 0


def test_a_step_that_is_not_due_does_nothing(btc):
    # given: a step chain already scheduled the next step in 30 s
    session = make_session([btc])
    TradingSession.objects.filter(pk=session.pk).update(
        next_step_at=timezone.now() + timedelta(seconds=30))
    # when: a duplicate message arrives now
    result = session_step(session_id=session.pk, worker="worker-2", schedule=False)
    # then
    assert result.outcome == "not_claimed"


def test_an_expired_lease_is_taken_over_and_the_release_of_the_dead_worker_is_ignored(btc):
    # given: worker-1 claimed the session and died (its lease ran out)
    session = make_session([btc])
    assert session_claim(session_id=session.pk, worker="worker-1", due_only=False,
                         now=timezone.now() - timedelta(seconds=LEASE_SECONDS + 1))
    # when
    result = step(session, worker="worker-2")
    late_release = session_release(session_id=session.pk, worker="worker-1", next_step_at=None)
    # then
    assert result.outcome == "stepped"
    assert late_release is False


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_claims_exactly_one_wins(btc):
    # given
    session = make_session([btc])
    barrier = threading.Barrier(2)
    outcomes: dict[str, bool] = {}

    def claim(worker: str) -> None:
        try:
            barrier.wait(timeout=5)
            outcomes[worker] = session_claim(session_id=session.pk, worker=worker)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=claim, args=(w,)) for w in ("worker-1", "worker-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    # then
    assert sorted(outcomes.values()) == [False, True]
    winner = next(w for w, won in outcomes.items() if won)
    assert TradingSession.objects.get(pk=session.pk).claimed_by == winner


def test_a_worker_killed_before_commit_resumes_with_the_journal_of_an_uninterrupted_run(btc):
    # given: the same replay run once without interruption, step by step
    uninterrupted = make_session([btc], name="uninterrupted")
    fills_after = []
    for _ in range(10):
        step(uninterrupted)
        fills_after.append(FillRecord.objects.filter(session=uninterrupted).count())
    crash_steps = {fills_after.index(n) for n in sorted(set(fills_after)) if n}
    assert crash_steps, "the replay must trade for this test to mean anything"
    # when: the same replay is killed at every step that filled an order, then resumed
    resumed = make_session([btc], name="resumed")
    done = 0
    while done < 10:
        if done in crash_steps:
            crash_steps.discard(done)
            with connection.execute_wrapper(_crash_on_checkpoint_write), \
                    pytest.raises(WorkerKilled):
                step(resumed, worker="doomed")
            # the lease of the killed worker runs out
            TradingSession.objects.filter(pk=resumed.pk).update(
                lease_until=timezone.now() - timedelta(seconds=1))
            assert FillRecord.objects.filter(session=resumed).count() == (
                fills_after[done - 1] if done else 0)
        assert step(resumed, worker="survivor").outcome == "stepped"
        done += 1
    # then: no order, fill or journal entry lost or repeated
    assert journal_snapshot(resumed) == journal_snapshot(uninterrupted)
    ids = list(OrderRecord.objects.filter(session=resumed).values_list("client_order_id", flat=True))
    assert len(ids) == len(set(ids)) > 0


def test_the_watchdog_enqueues_sessions_whose_step_chain_was_lost(btc):
    # given: a running session overdue with an expired lease, and one stepping normally
    lost = make_session([btc], name="lost")
    TradingSession.objects.filter(pk=lost.pk).update(
        next_step_at=timezone.now() - timedelta(minutes=5),
        claimed_by="dead-worker", lease_until=timezone.now() - timedelta(seconds=1))
    healthy = make_session([btc], name="healthy")
    TradingSession.objects.filter(pk=healthy.pk).update(
        next_step_at=timezone.now() + timedelta(seconds=2))
    stopped = make_session([btc], name="stopped")
    TradingSession.objects.filter(pk=stopped.pk).update(status="stopped", next_step_at=None)
    # when
    enqueued = sessions_tick()
    # then
    assert enqueued == [lost.pk]


def test_the_step_schedules_the_next_one_sooner_when_positions_are_open(btc):
    # given: a session that enters a position within a few days, one candle per step
    session = make_session([btc], candles_per_step=1, cadence_seconds=10.0,
                           replay_start_ms=REPLAY_START_MS + 150 * HOUR_MS)
    delays = []
    # when
    while len(delays) < 66 and not (delays and delays[-1][1] > 0 and len(delays) > 5):
        before = timezone.now()
        result = step(session)
        delays.append(((result.next_step_at - before).total_seconds(),
                       TradingSession.objects.get(pk=session.pk).open_positions))
    # then
    flat = [d for d, positions in delays if positions == 0]
    holding = [d for d, positions in delays if positions > 0]
    assert holding and flat
    assert max(holding) < 10.0 * 0.8 and max(flat) <= 10.0 + 1


def test_a_replay_that_reaches_the_last_stored_candle_stops(btc):
    # given: a replay of the last 5 stored candles
    last = btc.candles.order_by("-open_time").values_list("open_time", flat=True).first()
    session = make_session([btc], replay_start_ms=last - 4 * HOUR_MS, candles_per_step=10)
    # when
    first, second = step(session), step(session)
    # then
    session.refresh_from_db()
    assert first.candles == 5 and second.candles == 0
    assert session.status == "stopped" and session.status_reason.startswith("replay finished")
    assert second.next_step_at is None
