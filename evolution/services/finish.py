"""The end of a run: validate the best strategies, compute DSR and PBO, mark it completed.

Guarantees:
- `finish_dispatch` (called under the run's row lock when the last generation is
  stored) marks the run as finishing and, after commit, fans the validation of
  the `validate_top` best strategies of the hall of fame out as a chord of
  `evolution.validate_strategy` tasks with `evolution.finish_run` as callback
  (serial runs call the same functions in-process);
- `strategy_validation_compute` is a pure computation on the run's stored data:
  in-sample / out-of-sample / walk-forward figures per instrument and side by
  side (`validate_genome`, fees and slippage on), the thorough lookahead checks,
  and the GA objectives out of sample next to the in-sample fitness;
- `run_finish` stores everything once (a run that is no longer finishing is left
  alone): the validation by identity on the run, on the strategies the run
  discovered (and on strategies never validated before), strategies that fail the
  thorough lookahead check marked dead, the run-level deflated Sharpe ratio and
  PBO from the whole trial ledger, status completed; publishes after commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from evolution.engine.datasets import DATASETS
from evolution.engine.evaluation import Evaluation
from evolution.engine.ga import Checkpoint
from evolution.engine.trial_ledger import TrialLedger
from evolution.engine.validation import out_of_sample_truth, run_overfitting, validate_genome
from evolution.lock_objects import evolution_run_lock
from evolution.models import EvolutionRun, Strategy, Trial
from evolution.run_config import RunEngine
from evolution.services.events import run_event_publish

log = logging.getLogger(__name__)
Status = EvolutionRun.Status
TRIAL_FIELDS = ("generation", "identity", "genes_hash", "objectives", "reason",
                "period_origin_ms", "period_ms", "period_returns")


def validation_targets(run: EvolutionRun) -> list[str]:
    """Identities of the strategies validated at the end: the best of the hall of fame."""
    best = (run.hall_of_fame or {}).get("best", [])
    return [entry["identity"] for entry in best[: run.validate_top]]


def finish_dispatch(run: EvolutionRun) -> None:
    """Mark the run finishing (caller holds its lock) and send the validation after commit."""
    run.finishing_started_at = timezone.now()
    run.progress_message = "validating the best strategies"
    run.save(update_fields=["finishing_started_at", "progress_message"])
    run_event_publish(run, "status")
    if run.executor == EvolutionRun.Executor.CELERY:
        transaction.on_commit(partial(_send_validation, run.pk, validation_targets(run)))


def _send_validation(run_id: int, identities: Sequence[str]) -> None:
    from celery import chord, group

    from evolution.tasks import finish_run, on_queue, send, validate_strategy

    if not identities:
        send(finish_run, [], run_id)
        return
    chord(group(on_queue(validate_strategy.s(run_id, identity)) for identity in identities),
          on_queue(finish_run.s(run_id))).apply_async()


def _hall_evaluation(run: EvolutionRun, identity: str) -> Evaluation:
    hall = Checkpoint.from_dict(run.checkpoint).hall_of_fame if run.checkpoint else None
    for evaluation in (*hall.best, *hall.pareto) if hall else ():
        if evaluation.genome.identity == identity:
            return evaluation
    raise LookupError(f"{identity} is not in the hall of fame of run {run.pk}")


def strategy_validation_compute(*, run_id: int, identity: str) -> dict[str, Any]:
    """The validation of one hall-of-fame strategy (JSON-safe; see the module docstring)."""
    started = time.perf_counter()
    run = EvolutionRun.objects.get(pk=run_id)
    engine = RunEngine.of(run)
    evaluation = _hall_evaluation(run, identity)
    whole = DATASETS.get(engine.whole.key)
    report = validate_genome(evaluation.genome, whole.bars, engine.windows,
                             engine.evaluation.backtest)
    oos_start, oos_end = engine.windows.out_of_sample
    oos = whole.window(oos_start, oos_end, key=f"{engine.whole.key}#out_of_sample")
    truth = out_of_sample_truth([evaluation], oos, engine.evaluation)[0]
    return {"identity": identity, "validation": report.to_dict(), "out_of_sample": truth,
            "lookahead_passed": report.lookahead_passed,
            "seconds": time.perf_counter() - started}


def _ledger(run: EvolutionRun) -> TrialLedger:
    rows = Trial.objects.filter(run=run).order_by("generation", "position").values(*TRIAL_FIELDS)
    return TrialLedger.from_dicts({**r, "reason": r["reason"] or None} for r in rows)


def _overfitting(run: EvolutionRun) -> dict[str, Any]:
    report = run_overfitting(_ledger(run))
    if report.get("pbo"):
        report["pbo"] = {k: v for k, v in report["pbo"].items() if k != "logits"}
    return report


def _strategies_update(run: EvolutionRun, results: Sequence[Mapping[str, Any]]) -> None:
    now = timezone.now()
    for result in results:
        validation = result["validation"]
        passed = bool(result["lookahead_passed"])
        fields: dict[str, Any] = {
            "metrics": {"side_by_side": validation["side_by_side"],
                        "instruments": validation["instruments"],
                        "walk_forward": validation["walk_forward"],
                        "windows": validation["windows"],
                        "out_of_sample_objectives": result["out_of_sample"]["out_of_sample"],
                        "run_id": run.pk},
            "lookahead": {"gate": {"passed": True}, "thorough": validation["lookahead"]},
            "lookahead_passed": passed, "validated_at": now,
        }
        if not passed:
            fields["status"] = Strategy.Lifecycle.DEAD
        Strategy.objects.filter(Q(run=run) | Q(validated_at=None),
                                identity=result["identity"]).update(**fields)


def run_finish(*, run_id: int, results: Sequence[Mapping[str, Any]]) -> bool:
    """Store the validation and the run-level statistics; False if the run was not finishing."""
    with transaction.atomic():
        run = evolution_run_lock(run_id)
        if run is None or run.status != Status.RUNNING or run.finishing_started_at is None:
            return False
        report = _overfitting(run)
        _strategies_update(run, results)
        run.validation = {r["identity"]: {
            "side_by_side": r["validation"]["side_by_side"],
            "lookahead_passed": r["lookahead_passed"],
            "in_sample_objectives": r["out_of_sample"]["in_sample"],
            "out_of_sample_objectives": r["out_of_sample"]["out_of_sample"],
            "out_of_sample_reason": r["out_of_sample"]["out_of_sample_reason"],
        } for r in results}
        run.overfitting = report
        run.deflated_sharpe = (report.get("deflated_sharpe") or {}).get("deflated_sharpe")
        run.pbo = (report.get("pbo") or {}).get("pbo")
        run.validation_seconds = float(sum(r.get("seconds", 0.0) for r in results))
        run.status, run.progress, run.finished_at = Status.COMPLETED, 1.0, timezone.now()
        run.progress_message = "completed"
        run.save(update_fields=["validation", "overfitting", "deflated_sharpe", "pbo",
                                "validation_seconds", "status", "progress", "finished_at",
                                "progress_message"])
        run_event_publish(run, "status")
    return True
