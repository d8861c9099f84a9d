"""Read-side queries for evolution runs and strategies (pages and API read only these).

Guarantees: every list is bounded by its caller or by the run's own size;
`run_strategy_rows` returns, for a scope of a run's strategies ("hall_of_fame":
the best by combined score, "pareto": the Pareto front, "all": every valid
genome the run evaluated), the in-sample objectives the run measured (a strategy
rediscovered by a later run is shown with that run's figures), its stored
strategy id, and its out-of-sample validation when the run completed. Reported
strategies all passed the GA's lookahead gate; `lookahead_passed` is False only
for those that then failed the thorough check of the final validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from evolution.models import EvolutionRun, GenerationStat, Strategy, Trial

SCOPES = ("hall_of_fame", "pareto", "all")
MAX_DB_ID = 2**63 - 1


def run_list(*, status: str | None = None) -> QuerySet[EvolutionRun]:
    qs = EvolutionRun.objects.select_related("created_by").prefetch_related(
        "instruments__exchange").defer("checkpoint")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def run_get(run_id: int) -> EvolutionRun | None:
    if not 1 <= run_id <= MAX_DB_ID:
        return None
    return (EvolutionRun.objects.select_related("created_by")
            .prefetch_related("instruments__exchange").defer("checkpoint")
            .filter(pk=run_id).first())


def run_generation_stats(run: EvolutionRun | int) -> QuerySet[GenerationStat]:
    run_id = run if isinstance(run, int) else run.pk
    return GenerationStat.objects.filter(run_id=run_id).order_by("generation")


@dataclass(frozen=True)
class RunStrategyRow:
    """A strategy as one run measured it."""

    identity: str
    strategy_id: int | None
    seed_or_combo: str
    generation: int
    description: str
    objectives: dict[str, float]
    validation: dict[str, Any] = field(default_factory=dict)
    lookahead_passed: bool = True
    in_hall_of_fame: bool = False
    on_pareto_front: bool = False


def _hall_rows(run: EvolutionRun, entries: Sequence[dict[str, Any]]) -> list[RunStrategyRow]:
    ids = dict(Strategy.objects.filter(identity__in=[e["identity"] for e in entries])
               .values_list("identity", "pk"))
    best = {e["identity"] for e in (run.hall_of_fame or {}).get("best", [])}
    pareto = {e["identity"] for e in (run.hall_of_fame or {}).get("pareto", [])}
    rows = []
    for entry in entries:
        validation = (run.validation or {}).get(entry["identity"], {})
        rows.append(RunStrategyRow(
            identity=entry["identity"], strategy_id=ids.get(entry["identity"]),
            seed_or_combo=entry["seed_or_combo"], generation=entry["generation"],
            description=entry["description"], objectives=entry["objectives"],
            validation=validation, lookahead_passed=validation.get("lookahead_passed", True),
            in_hall_of_fame=entry["identity"] in best,
            on_pareto_front=entry["identity"] in pareto,
        ))
    return rows


def _evaluated_rows(run: EvolutionRun, limit: int) -> list[RunStrategyRow]:
    trials = (Trial.objects.filter(run=run, reason="").exclude(strategy=None)
              .select_related("strategy").order_by("-combined", "generation", "position"))
    rows, seen = [], set()
    hall = {e["identity"] for e in (run.hall_of_fame or {}).get("best", [])}
    pareto = {e["identity"] for e in (run.hall_of_fame or {}).get("pareto", [])}
    for trial in trials.iterator(chunk_size=500):
        if trial.genes_hash in seen:
            continue
        seen.add(trial.genes_hash)
        strategy = trial.strategy
        assert strategy is not None
        validation = (run.validation or {}).get(trial.identity, {})
        rows.append(RunStrategyRow(
            identity=trial.identity, strategy_id=strategy.pk,
            seed_or_combo=strategy.seed_or_combo, generation=trial.generation,
            description=strategy.description, objectives=dict(trial.objectives),
            validation=validation, lookahead_passed=validation.get("lookahead_passed", True),
            in_hall_of_fame=trial.identity in hall, on_pareto_front=trial.identity in pareto,
        ))
        if len(rows) >= limit:
            break
    return rows


def run_strategy_rows(run: EvolutionRun, scope: str = "hall_of_fame", *,
                      limit: int = 500) -> list[RunStrategyRow]:
    """A run's strategies in `scope` (see the module docstring), best combined score first."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    if scope == "all":
        return _evaluated_rows(run, limit)
    entries = (run.hall_of_fame or {}).get("best" if scope == "hall_of_fame" else "pareto", [])
    ordered = sorted(entries, key=lambda e: -e["objectives"]["combined"])[:limit]
    return _hall_rows(run, ordered)


def strategy_get(key: str | int) -> Strategy | None:
    """A strategy by primary key (digits) or identity."""
    text = str(key).strip()
    qs = Strategy.objects.select_related("run").defer("run__checkpoint")
    if text.isdigit() and len(text) < 19:
        return qs.filter(pk=int(text)).first()
    return qs.filter(identity=text[:200]).first()


@dataclass(frozen=True)
class Lineage:
    parents: list[Strategy]
    missing_parents: list[str]  # parent identities with no stored strategy (failed genomes)
    children: list[Strategy]


def strategy_lineage(strategy: Strategy, *, limit: int = 100) -> Lineage:
    parents = list(strategy.parents.order_by("identity")[:limit])
    named = list(strategy.genome.get("parents", []))
    stored = {p.identity for p in parents}
    return Lineage(parents=parents, missing_parents=[p for p in named if p not in stored],
                   children=list(strategy.children.order_by("generation", "identity")[:limit]))


def strategy_runs(strategy: Strategy) -> QuerySet[EvolutionRun]:
    """Runs that evaluated this strategy (the discovering run first)."""
    return (EvolutionRun.objects.filter(trials__strategy=strategy).distinct()
            .defer("checkpoint").order_by("pk"))


def unfinished_run_ids(runs: Sequence[EvolutionRun]) -> list[int]:
    return [r.pk for r in runs if not r.is_finished]
