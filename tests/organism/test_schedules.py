"""`migrate` creates the default beat entries, and leaves operators' edits alone."""

import pytest
from django.apps import apps
from django_celery_beat.models import PeriodicTask

from organism.schedules import Schedule, schedule_ensure

pytestmark = pytest.mark.django_db


def test_migrate_created_the_watchdogs_and_the_candle_sync():
    tasks = dict(PeriodicTask.objects.values_list("task", "enabled"))
    assert tasks["trading.sessions_tick"] is True
    assert tasks["trading.candles_sync"] is True
    assert tasks["backtests.recover"] is True


def test_it_keeps_an_entry_the_operator_edited():
    # given an operator disabled the candle sync
    PeriodicTask.objects.filter(task="trading.candles_sync").update(enabled=False)
    # when migrate's handler runs again
    from django.db.models.signals import post_migrate

    post_migrate.send(sender=apps.get_app_config("trading"), app_config=apps.get_app_config("trading"),
                      verbosity=0, interactive=False, using="default", plan=[], apps=apps)
    # then it stays disabled
    assert PeriodicTask.objects.get(task="trading.candles_sync").enabled is False


def test_it_creates_a_new_entry_once():
    entry = Schedule("Nightly thing", "organism.nightly", 86_400, enabled=False, kwargs={"a": 1})
    assert schedule_ensure(entry) is True
    assert schedule_ensure(entry) is False
    stored = PeriodicTask.objects.get(name="Nightly thing")
    assert (stored.enabled, stored.kwargs, stored.interval.every) == (False, '{"a": 1}', 86_400)


@pytest.mark.django_db(transaction=True)
def test_migrating_one_app_before_the_beat_tables_exist_does_not_fail():
    # given a database where django_celery_beat is not migrated yet
    from django.core.management import call_command

    call_command("migrate", "django_celery_beat", "zero", verbosity=0)
    try:
        # when another app is migrated (post_migrate fires for every app)
        call_command("migrate", "trading", verbosity=0)
    finally:
        call_command("migrate", verbosity=0)
    # then migrate finished, and the entries exist once the beat tables do
    assert PeriodicTask.objects.filter(task="trading.sessions_tick").exists()
