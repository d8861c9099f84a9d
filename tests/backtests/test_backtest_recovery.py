"""Sessions whose worker died, or whose queue message was lost, are run again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backtests.models import BacktestSession
from backtests.services import backtests_recover
from tests.factories import BacktestSessionFactory

pytestmark = pytest.mark.django_db
Status = BacktestSession.Status


def test_it_requeues_a_session_whose_worker_died(django_capture_on_commit_callbacks):
    # given a session claimed two hours ago that never finished
    dead = BacktestSessionFactory(status=Status.RUNNING, progress=0.4,
                                  started_at=timezone.now() - timedelta(hours=2))
    alive = BacktestSessionFactory(status=Status.RUNNING, started_at=timezone.now())
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = backtests_recover(stale_after_s=3900)
    # then the dead one is pending again and queued; the live one is untouched
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, dead.progress) == (Status.PENDING, 0.0)
    assert alive.status == Status.RUNNING
    assert outcome == {"reset": 1, "requeued": 0}
    assert len(callbacks) == 1


def test_it_requeues_a_pending_session_whose_message_was_lost(django_capture_on_commit_callbacks):
    # given
    old = BacktestSessionFactory(status=Status.PENDING)
    BacktestSession.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=2))
    BacktestSessionFactory(status=Status.PENDING)  # just created: its message is in flight
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = backtests_recover(stale_after_s=3900)
    # then
    assert outcome == {"reset": 0, "requeued": 1}
    assert len(callbacks) == 1
