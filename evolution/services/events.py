"""The "evolution.generation" event: what the run page and the runs list update from.

Published after commit only (`publish_after_commit`), to `group_for_evolution(run_id)`.
`kind` says what happened: "status" (created, claimed, stopped, failed, completed),
"progress" (a batch of genomes was evaluated) or "generation" (a generation was
stored: the convergence chart redraws).
"""

from __future__ import annotations

from evolution.models import EvolutionRun
from organism.realtime import group_for_evolution, publish_after_commit

KINDS = ("status", "progress", "generation")


def run_event_publish(run: EvolutionRun, kind: str, message: str = "") -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown evolution event kind {kind!r}")
    publish_after_commit(group_for_evolution(run.pk), "evolution.generation", {
        "run_id": run.pk,
        "generation": int(run.completed_generations),
        "generations": int(run.generations),
        "status": str(run.status),
        "kind": kind,
        "progress": float(run.progress),
        "evaluated": int(run.evaluated_in_generation),
        "population": int(run.population),
        "best_combined": run.best_combined,
        "message": message or run.progress_message,
    })
