"""One GA generation of a run: claim and fan out, evaluate a batch, store the outcome.

Guarantees:
- `generation_dispatch` claims generation g of a run with ONE conditional UPDATE
  (active, not stopping, g generations completed, g not already out for
  evaluation), so a duplicated or redelivered task fans a generation out at most
  once; the chord of `evolution.evaluate_batch` tasks and its
  `evolution.collect_generation` callback is sent after commit;
- the genomes come from the engine restored from the checkpoint of the last
  completed generation (`ask()` is deterministic), so the collect step, any
  process, and a resumed run all see the same genomes; they travel in batches
  balanced by estimated cost (`batching.py`) and are put back in `ask()` order;
- `generation_complete` stores a generation at most once: under the run's row
  lock it checks that exactly g generations are completed, so a re-delivered
  collect, or the collect of a superseded dispatch, changes nothing;
- `generation_store` (shared with the serial runner) writes, in the caller's
  transaction: the generation's statistics, every evaluation as a trial, every
  valid genome as a strategy (passed the lookahead gate; lineage linked to the
  parents that are stored), the checkpoint, the hall of fame and the progress;
  then publishes "evolution.generation" after commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from evolution.batching import balanced_batches
from evolution.engine import evaluation as engine_evaluation
from evolution.engine.evaluation import Evaluation
from evolution.engine.ga import Checkpoint, Evolution
from evolution.engine.generation_stats import GenerationStats
from evolution.engine.genome import Genome
from evolution.lock_objects import evolution_run_lock
from evolution.models import EvolutionRun, GenerationStat, Strategy, Trial
from evolution.run_config import RunEngine
from evolution.services.events import run_event_publish

log = logging.getLogger(__name__)
Status = EvolutionRun.Status
GA_SHARE = 0.9  # of the progress bar; validation at the end takes the rest
PROGRESS_FIELDS = ("status", "progress", "progress_message", "completed_generations",
                   "generations", "population", "evaluated_in_generation", "best_combined")


@dataclass(frozen=True)
class GenerationPlan:
    """What one generation sends to the workers (all JSON-safe)."""

    run_id: int
    generation: int
    dataset_key: str
    evaluation_config: Mapping[str, Any]
    batches: tuple[tuple[Mapping[str, Any], ...], ...]


def evolution_of(run: EvolutionRun, engine: RunEngine) -> Evolution:
    """The engine state after the run's last completed generation."""
    checkpoint = Checkpoint.from_dict(run.checkpoint) if run.checkpoint else None
    return Evolution(engine.ga, checkpoint)


def ga_progress(run: EvolutionRun, evaluated: int = 0) -> float:
    done = run.completed_generations + min(evaluated, run.population) / run.population
    return min(GA_SHARE, GA_SHARE * done / run.generations)


def _claim(run_id: int, generation: int, now: datetime) -> bool:
    return EvolutionRun.objects.filter(
        pk=run_id, status__in=EvolutionRun.ACTIVE, stop_requested=False,
        completed_generations=generation, generations__gt=generation,
        finishing_started_at=None,
    ).exclude(dispatched_generation=generation).update(
        status=Status.RUNNING, dispatched_generation=generation, dispatched_at=now,
        evaluated_in_generation=0, started_at=Coalesce("started_at", now),
        progress_message=f"evaluating generation {generation + 1}",
    ) == 1


def generation_plan(run: EvolutionRun, engine: RunEngine, genomes: Sequence[Genome]
                    ) -> GenerationPlan:
    batches = balanced_batches([g.to_dict() for g in genomes], max(1, run.batch_size))
    return GenerationPlan(
        run_id=run.pk, generation=run.completed_generations, dataset_key=engine.in_sample.key,
        evaluation_config=engine.evaluation.as_dict(),
        batches=tuple(tuple(batch) for batch in batches),
    )


def generation_dispatch(*, run_id: int, generation: int) -> GenerationPlan | None:
    """Claim generation `generation` and fan it out after commit; None if not claimable."""
    with transaction.atomic():
        if not _claim(run_id, generation, timezone.now()):
            return None
        run = EvolutionRun.objects.get(pk=run_id)
        engine = RunEngine.of(run)
        plan = generation_plan(run, engine, evolution_of(run, engine).ask())
        run_event_publish(run, "status")
        transaction.on_commit(partial(_send_chord, plan))
    return plan


def _send_chord(plan: GenerationPlan) -> None:
    from celery import chord, group

    from evolution.tasks import collect_generation, evaluate_batch, on_queue

    header = group(
        on_queue(evaluate_batch.s(plan.run_id, plan.generation, list(batch), plan.dataset_key,
                                  dict(plan.evaluation_config)))
        for batch in plan.batches
    )
    chord(header, on_queue(collect_generation.s(plan.run_id, plan.generation))).apply_async()


def generation_batch_evaluate(*, run_id: int, generation: int,
                              genomes: Sequence[Mapping[str, Any]], dataset_key: str,
                              evaluation_config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Evaluate one batch (the engine's JSON in/out; the process's dataset cache is reused)
    and count it in the run's progress while that generation is still out."""
    rows = engine_evaluation.evaluate_batch(list(genomes), dataset_key, evaluation_config)
    with transaction.atomic():
        counted = EvolutionRun.objects.filter(
            pk=run_id, status=Status.RUNNING, dispatched_generation=generation,
            completed_generations=generation,
        ).update(evaluated_in_generation=F("evaluated_in_generation") + len(rows))
        if counted:
            run = EvolutionRun.objects.only(*PROGRESS_FIELDS).get(pk=run_id)
            EvolutionRun.objects.filter(pk=run_id).update(
                progress=ga_progress(run, run.evaluated_in_generation))
            run.progress = ga_progress(run, run.evaluated_in_generation)
            run_event_publish(run, "progress",
                              f"generation {generation + 1}: {run.evaluated_in_generation}/"
                              f"{run.population} evaluated")
    return rows


def generation_complete(*, run_id: int, generation: int,
                        rows: Sequence[Mapping[str, Any]]) -> bool:
    """Tell the engine a generation's evaluations and store it; False if it was not due."""
    with transaction.atomic():
        run = evolution_run_lock(run_id)
        if run is None or run.status != Status.RUNNING or run.completed_generations != generation:
            return False
        engine = RunEngine.of(run)
        evolution = evolution_of(run, engine)
        asked = evolution.ask()
        evaluations = in_asked_order(asked, rows)
        stats = evolution.tell(evaluations)
        started = run.dispatched_at or timezone.now()
        duration = (timezone.now() - started).total_seconds()
        generation_store(run, evolution, asked, stats, evaluations, duration)
        generation_next(run, evolution.done)
    return True


def in_asked_order(asked: Sequence[Genome], rows: Sequence[Mapping[str, Any]]
                   ) -> list[Evaluation]:
    """The batches' evaluations in the order `ask()` gave the genomes. Evaluation is a pure
    function of the genes, so genomes with the same genes share one evaluation."""
    by_genes = {(e := Evaluation.from_dict(r)).genome.genes_hash: e for r in rows}
    missing = [g.identity for g in asked if g.genes_hash not in by_genes]
    if missing or len(rows) != len(asked):
        raise ValueError(f"the batches returned {len(rows)} evaluations for {len(asked)} "
                         f"genomes; missing {missing[:5]}")
    return [by_genes[g.genes_hash] for g in asked]


def generation_next(run: EvolutionRun, done: bool) -> None:
    """After a stored generation: stop, start the validation, or send the next generation."""
    from evolution.services.finish import finish_dispatch
    from evolution.services.runs import run_stopped_mark

    if run.stop_requested:
        run_stopped_mark(run)
    elif done:
        finish_dispatch(run)
    elif run.executor == EvolutionRun.Executor.CELERY:
        transaction.on_commit(partial(_send_generation, run.pk, run.completed_generations))


def _send_generation(run_id: int, generation: int) -> None:
    from evolution.tasks import run_generation, send

    send(run_generation, run_id, generation)


# ----------------------------------------------------------------------------- storing


def _hall_entry(evaluation: Evaluation) -> dict[str, Any]:
    genome = evaluation.genome
    return {
        "identity": genome.identity, "seed_or_combo": genome.seed_or_combo,
        "generation": genome.generation, "description": genome.describe(),
        "objectives": evaluation.objectives.as_dict(),
        "assets": [vars(a).copy() for a in evaluation.assets],
    }


def hall_of_fame_summary(evolution: Evolution) -> dict[str, Any]:
    hall = evolution.hall_of_fame
    return {"best": [_hall_entry(e) for e in hall.best],
            "pareto": [_hall_entry(e) for e in hall.pareto]}


def _stat_row(run: EvolutionRun, stats: GenerationStats, duration: float) -> GenerationStat:
    combined = stats.objectives.get("combined", {})
    return GenerationStat(
        run=run, generation=stats.generation, evaluated=stats.evaluated, failed=stats.failed,
        failure_reasons=dict(stats.failure_reasons),
        objectives={k: dict(v) for k, v in stats.objectives.items()},
        best_combined=combined.get("best"), median_combined=combined.get("median"),
        unique_ratio=stats.diversity.unique_ratio, mean_distance=stats.diversity.mean_distance,
        reseeded=stats.reseeded, reseed_next=stats.reseed_next,
        best_identity=stats.best_identity or "", duration_ms=int(duration * 1000),
    )


def _strategies_store(run: EvolutionRun, genomes: Sequence[Genome],
                      evaluations: Sequence[Evaluation]) -> dict[str, int]:
    """Create the valid genomes as strategies (existing identities kept); identity -> id."""
    valid = [(g, e) for g, e in zip(genomes, evaluations, strict=True) if e.ok]
    Strategy.objects.bulk_create([
        Strategy(identity=g.identity, seed_or_combo=g.seed_or_combo, genes_hash=g.genes_hash,
                 genome=g.to_dict(), description=g.describe(), generation=g.generation, run=run,
                 objectives=e.objectives.as_dict(), combined=e.objectives.combined,
                 sharpe=e.objectives.sharpe, assets=[vars(a).copy() for a in e.assets],
                 lookahead={"gate": {"passed": True, "check": "aimed truncation cuts after "
                                     "firing bars and at the last bar"}})
        for g, e in valid
    ], ignore_conflicts=True)
    names = {g.identity for g, _ in valid} | {p for g, _ in valid for p in g.parents}
    ids = dict(Strategy.objects.filter(identity__in=names).values_list("identity", "pk"))
    links = [Strategy.parents.through(from_strategy_id=ids[g.identity], to_strategy_id=ids[p])
             for g, _ in valid for p in dict.fromkeys(g.parents) if p in ids]
    Strategy.parents.through.objects.bulk_create(links, ignore_conflicts=True)
    return ids


def generation_store(run: EvolutionRun, evolution: Evolution, genomes: Sequence[Genome],
                     stats: GenerationStats, evaluations: Sequence[Evaluation],
                     duration: float) -> None:
    """Persist a generation the engine was just told (see the module docstring)."""
    started = time.perf_counter()
    _stat_row(run, stats, duration).save(force_insert=True)
    ids = _strategies_store(run, genomes, evaluations)
    Trial.objects.bulk_create([
        Trial(run=run, generation=stats.generation, position=i, identity=g.identity,
              genes_hash=g.genes_hash, strategy_id=ids.get(g.identity) if e.ok else None,
              objectives=e.objectives.as_dict(), combined=e.objectives.combined,
              reason=e.reason or "", period_origin_ms=e.period_origin_ms, period_ms=e.period_ms,
              period_returns=list(e.period_returns))
        for i, (g, e) in enumerate(zip(genomes, evaluations, strict=True))
    ])
    hall = hall_of_fame_summary(evolution)
    run.completed_generations = evolution.generation
    run.checkpoint = evolution.checkpoint().to_dict()
    run.hall_of_fame = hall
    run.best_combined = max((h["objectives"]["combined"] for h in hall["best"]), default=None)
    run.dispatched_generation, run.dispatched_at, run.evaluated_in_generation = None, None, 0
    run.progress = ga_progress(run)
    run.progress_message = f"generation {run.completed_generations}/{run.generations} done"
    run.evaluation_seconds += duration
    run.save(update_fields=[
        "completed_generations", "checkpoint", "hall_of_fame", "best_combined",
        "dispatched_generation", "dispatched_at", "evaluated_in_generation", "progress",
        "progress_message", "evaluation_seconds",
    ])
    log.info("run %s generation %s stored in %.2fs", run.pk, stats.generation,
             time.perf_counter() - started)
    run_event_publish(run, "generation")
