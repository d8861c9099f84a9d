"""Default Celery beat entries, created by `migrate` in every runtime.

Each app declares the periodic tasks it needs and registers them from its
AppConfig.ready() with `on_migrate`; Django's post_migrate signal then creates
the missing ones (django-celery-beat's database scheduler), so a production
deployment gets them from its `migrate` step exactly as the embedded runner
does. Entries that already exist are left as the operator edited them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models.signals import post_migrate


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    every_seconds: int
    queue: str = "default"
    enabled: bool = True
    kwargs: dict[str, Any] = field(default_factory=dict)


def schedule_ensure(schedule: Schedule) -> bool:
    """Create the beat entry unless one of that name exists; True when created."""
    import json

    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=schedule.every_seconds, period=IntervalSchedule.SECONDS
    )
    _, created = PeriodicTask.objects.get_or_create(
        name=schedule.name,
        defaults={
            "task": schedule.task,
            "interval": every,
            "queue": schedule.queue,
            "enabled": schedule.enabled,
            "kwargs": json.dumps(schedule.kwargs),
        },
    )
    return created


def _beat_tables_exist(using: str) -> bool:
    from django.db import connections
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    tables = set(connections[using].introspection.table_names())
    return {PeriodicTask._meta.db_table, IntervalSchedule._meta.db_table} <= tables


def on_migrate(app_config, schedules: tuple[Schedule, ...]) -> None:
    """Create `schedules` after this app's migrations have run."""

    def create(sender, using="default", **kwargs) -> None:
        if not _beat_tables_exist(using):  # e.g. `migrate <one app>` on a fresh database
            return
        for schedule in schedules:
            schedule_ensure(schedule)

    post_migrate.connect(create, sender=app_config, weak=False, dispatch_uid=f"schedules:{app_config.label}")
