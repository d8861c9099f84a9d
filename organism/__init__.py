"""Organism project package: settings, URLs, ASGI, Celery, and the core shared by all apps."""

from organism.celery import app as celery_app

__all__ = ["celery_app"]
