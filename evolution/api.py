"""Evolution over REST: runs, their generations and strategies, evolved strategies, seeds.

Mounted at /api/v1/ (paths /evolution/runs..., /strategies/{id}, /seeds). Start a
run (validated; 422 with field details located ["body", "payload", <field>, ...]
for unknown seeds, instruments without data in the range, out-of-bound sizes or
costs), follow its status and progress, read its per-generation statistics and
its strategies (hall of fame, Pareto front, or every valid genome), stop or
resume it. Unknown runs and strategies are 404; stopping a finished run or
resuming a completed one is 409. Never a 500 on bad input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from evolution.engine.seeds import describe_seeds
from evolution.models import EvolutionRun, Strategy
from evolution.selectors import (
    SCOPES,
    run_generation_stats,
    run_get,
    run_list,
    run_strategy_rows,
    strategy_get,
)
from evolution.services import (
    RunFinishedError,
    RunNotResumableError,
    evolution_resume,
    evolution_run_create,
    evolution_run_stop,
)
from trading.api_common import (
    INSTANT_HELP,
    CreatedOut,
    FieldErrorsOut,
    Instant,
    InstrumentRefOut,
    field_errors,
)
from trading.engine.market import TIMEFRAME_MS

router = Router(tags=["evolution"])

MAX_PAGE = 500
RunStatus = Literal["pending", "running", "completed", "failed", "stopped"]


# --- Schemas ---------------------------------------------------------------------------------
class CostsIn(Schema):
    maker_fee: float = Field(0.0002, description="Maker fee rate (0.0002 = 0.02%)")
    taker_fee: float = Field(0.0005, description="Taker fee rate, charged on every fill (> 0)")
    slippage: float = Field(0.0005, description="Slippage rate on every fill (> 0)")


class RunIn(Schema):
    name: str = Field("", max_length=200)
    seeds: list[str] | None = Field(None, max_length=50,
                                    description="Seeds genomes may use (GET /seeds); default all")
    instrument_ids: list[int] = Field(min_length=1, max_length=10)
    timeframe: str = Field("1h", description=f"One of {', '.join(TIMEFRAME_MS)}")
    start: Instant = Field(description=f"{INSTANT_HELP}; inclusive")
    end: Instant = Field(description=f"{INSTANT_HELP}; exclusive")
    split: list[float] | None = Field(None, description="In-sample / out-of-sample / "
                                      "walk-forward fractions (default 0.6, 0.2, 0.2)")
    population: int = Field(50, description="4 to 1,000 genomes per generation")
    generations: int = Field(20, description="1 to 500, the random first one included")
    batch_size: int | None = Field(None, description="Genomes per worker task (default 5)")
    objectives: list[str] | None = Field(None, description="What NSGA-II ranks on, among "
                                         "sharpe, consistency, max_drawdown, turnover "
                                         "(default all four)")
    costs: CostsIn | None = Field(None, description="Default: maker 0.02%, taker 0.05%, "
                                  "slippage 0.05%")
    random_seed: int = Field(42, description="Same seed, same configuration: same run")
    warmup_bars: int = Field(720, description="Bars before the start that warm indicators up")
    validate_top: int = Field(10, description="Best strategies validated IS / OOS / WF at the end")
    hall_of_fame_size: int = Field(10, description="Best strategies kept by combined score")





class RunOut(Schema):
    id: int
    name: str
    status: RunStatus
    progress: float = Field(description="0..1")
    progress_message: str
    completed_generations: int
    generations: int
    population: int
    batch_size: int
    seeds: list[str]
    instruments: list[InstrumentRefOut]
    timeframe: str
    start: datetime
    end: datetime
    split: list[float]
    windows: dict[str, list[int]] = Field(description="in_sample / out_of_sample / walk_forward "
                                          "as [start_ms, end_ms)")
    objectives: list[str]
    costs: dict[str, float]
    random_seed: int
    executor: str
    stop_requested: bool
    best_combined: float | None
    deflated_sharpe: float | None = Field(description="Run-level deflated Sharpe (probability)")
    pbo: float | None = Field(description="Probability of backtest overfitting")
    overfitting: dict[str, Any]
    dataset: dict[str, Any]
    error_message: str
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    evaluation_seconds: float
    validation_seconds: float


class RunListOut(Schema):
    count: int
    items: list[RunOut]


class GenerationOut(Schema):
    generation: int
    evaluated: int
    failed: int
    failure_reasons: dict[str, int]
    objectives: dict[str, dict[str, float | None]] = Field(
        description="objective -> best / median / worst over the surviving population")
    best_combined: float | None
    median_combined: float | None
    unique_ratio: float
    mean_distance: float
    reseeded: int
    best_identity: str
    duration_ms: int


class RunStrategyOut(Schema):
    identity: str
    strategy_id: int | None
    seed_or_combo: str
    generation: int
    description: str
    objectives: dict[str, float] = Field(description="In-sample, as this run measured them")
    in_hall_of_fame: bool
    on_pareto_front: bool
    lookahead_passed: bool
    validation: dict[str, Any] = Field(
        description="side_by_side (figure -> IS / OOS / WF) and out-of-sample objectives, "
                    "once the run completed")


class StrategyOut(Schema):
    id: int
    identity: str
    seed_or_combo: str
    genes_hash: str
    genome: dict[str, Any]
    description: str
    generation: int
    run_id: int | None
    parents: list[str]
    children: list[str]
    objectives: dict[str, float]
    combined: float
    assets: list[dict[str, Any]]
    metrics: dict[str, Any]
    lookahead: dict[str, Any]
    lookahead_passed: bool
    status: Literal["born", "testing", "production", "decaying", "dead"]
    created_at: datetime
    validated_at: datetime | None


class ParamOut(Schema):
    name: str
    kind: str
    default: Any
    low: float | None
    high: float | None
    choices: list[Any]
    log: bool
    description: str


class SeedOut(Schema):
    name: str
    title: str
    role: str
    roles: list[str]
    description: str
    params: list[ParamOut]
    defaults: dict[str, Any]


class ListQuery(Schema):
    status: RunStatus | None = None
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=10_000_000)


class StrategiesQuery(Schema):
    scope: Literal["hall_of_fame", "pareto", "all"] = Field(
        "hall_of_fame", description=f"One of {', '.join(SCOPES)}")
    limit: int = Field(100, ge=1, le=MAX_PAGE)


class ErrorOut(Schema):
    detail: str




# --- Helpers ---------------------------------------------------------------------------------
def _run_or_404(run_id: int) -> EvolutionRun:
    run = run_get(run_id)
    if run is None:
        raise Http404(f"evolution run {run_id} not found")
    return run


def run_out(run: EvolutionRun) -> dict[str, Any]:
    fields = ("id", "name", "status", "progress", "progress_message", "completed_generations",
              "generations", "population", "batch_size", "seeds", "timeframe", "start", "end",
              "split", "windows", "objectives", "costs", "random_seed", "executor",
              "stop_requested", "best_combined", "deflated_sharpe", "pbo", "overfitting",
              "dataset", "error_message", "created_at", "started_at", "finished_at",
              "evaluation_seconds", "validation_seconds")
    return {
        **{name: getattr(run, name) for name in fields},
        "instruments": [{"id": i.pk, "exchange": i.exchange.code, "symbol": i.symbol,
                         "market_type": i.market_type} for i in run.instruments.all()],
        "created_by": run.created_by.get_username() if run.created_by else None,
    }



def strategy_out(strategy: Strategy) -> dict[str, Any]:
    fields = ("id", "identity", "seed_or_combo", "genes_hash", "genome", "description",
              "generation", "run_id", "objectives", "combined", "assets", "metrics", "lookahead",
              "lookahead_passed", "status", "created_at", "validated_at")
    return {
        **{name: getattr(strategy, name) for name in fields},
        "parents": list(strategy.parents.order_by("identity").values_list("identity", flat=True)),
        "children": list(strategy.children.order_by("identity").values_list("identity",
                                                                             flat=True)),
    }


# --- Endpoints -------------------------------------------------------------------------------
@router.post("/evolution/runs", response={201: CreatedOut, 422: FieldErrorsOut},
             summary="Start an evolution run")
def create_run(request, payload: RunIn):
    values = payload.dict()
    try:
        run = evolution_run_create(user=request.user, **values)
    except ValidationError as exc:
        return Status(422, {"detail": field_errors(exc)})
    return Status(201, {"id": run.pk, "status": run.status})


@router.get("/evolution/runs", response=RunListOut, summary="List evolution runs")
def list_runs(request, query: Query[ListQuery]):
    qs = run_list(status=query.status)
    return {"count": qs.count(),
            "items": [run_out(r) for r in qs[query.offset:query.offset + query.limit]]}


@router.get("/evolution/runs/{int:run_id}", response=RunOut, summary="Status and progress")
def get_run(request, run_id: int):
    return run_out(_run_or_404(run_id))


@router.get("/evolution/runs/{int:run_id}/generations", response=list[GenerationOut],
            summary="Per-generation statistics (convergence)")
def get_generations(request, run_id: int):
    run = _run_or_404(run_id)
    return list(run_generation_stats(run).values(*GenerationOut.model_fields))


@router.get("/evolution/runs/{int:run_id}/strategies", response=list[RunStrategyOut],
            summary="The run's strategies, best combined score first")
def get_run_strategies(request, run_id: int, query: Query[StrategiesQuery]):
    run = _run_or_404(run_id)
    return [vars(row) for row in run_strategy_rows(run, query.scope, limit=query.limit)]


@router.post("/evolution/runs/{int:run_id}/stop",
             response={200: RunOut, 403: ErrorOut, 409: ErrorOut},
             summary="Stop (pending: at once; running: after the current generation)")
def stop_run(request, run_id: int):
    run = _run_or_404(run_id)
    try:
        evolution_run_stop(run=run, user=request.user)
    except RunFinishedError as exc:
        return Status(409, {"detail": str(exc)})
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    return Status(200, run_out(_run_or_404(run_id)))


@router.post("/evolution/runs/{int:run_id}/resume",
             response={200: RunOut, 403: ErrorOut, 409: ErrorOut},
             summary="Resume a stopped, failed or stuck run from its last completed generation")
def resume_run(request, run_id: int):
    run = _run_or_404(run_id)
    try:
        evolution_resume(run=run, user=request.user)
    except RunNotResumableError as exc:
        return Status(409, {"detail": str(exc)})
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    return Status(200, run_out(_run_or_404(run_id)))


@router.get("/strategies/{key}", response=StrategyOut,
            summary="An evolved strategy, by id or identity")
def get_strategy(request, key: str):
    strategy = strategy_get(key)
    if strategy is None:
        raise Http404(f"strategy {key[:200]!r} not found")
    return strategy_out(strategy)


@router.get("/seeds", response=list[SeedOut], summary="The 12 seeds and their parameter spaces")
def seeds(request):
    return describe_seeds()
