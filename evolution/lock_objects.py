"""Every row lock of the evolution app lives here.

Lock order: an `EvolutionRun` row (one at a time, by primary key) before any other
row of the app. Locks are taken inside the caller's transaction.
"""

from __future__ import annotations

from evolution.models import EvolutionRun


def evolution_run_lock(run_id: int) -> EvolutionRun | None:
    """The run, locked until the surrounding transaction ends (None if it does not exist)."""
    return EvolutionRun.objects.select_for_update().filter(pk=run_id).first()
