"""The Celery application: configured from Django settings (CELERY_* keys).

Queues: trading, backtests, evolution, default. Tasks go to queues by name
(`CELERY_TASK_ROUTES` in settings); anything else goes to `default`. Every
worker, the embedded one included, keeps the memory it frees for reuse
(`organism.allocator`).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

from organism.allocator import keep_freed_memory

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "organism.settings")

app = Celery("organism")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@worker_process_init.connect
def keep_worker_memory(**_: object) -> None:
    """Workers reuse the memory they free (`organism.allocator`)."""
    keep_freed_memory()
