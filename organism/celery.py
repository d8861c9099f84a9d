"""The Celery application: configured from Django settings (CELERY_* keys).

Queues: trading, backtests, evolution, default. Tasks are routed by the
queue named on each task; anything else goes to `default`.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "organism.settings")

app = Celery("organism")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
