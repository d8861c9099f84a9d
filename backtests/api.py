"""Backtest sessions over REST (mounted at /api/v1/backtests).

Create a session, vectorised or event-driven (validated; 422 with field
details for unknown strategies, bad event-driven options,
parameters out of range, instruments or ranges without data; every field
error of POST /backtests is located as ["body", "payload", <field>, ...],
whether the schema or the service found it), follow its
status and progress, read its stored results and trades (paginated), cancel,
re-run, compare several, and list the strategies with their parameter spaces.
Unknown sessions are 404; a finished session cannot be cancelled (409);
results of a session that has not completed are 409. Never a 500 on bad input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import field_validator

from backtests.engine.strategies import list_strategies
from backtests.models import BacktestResult, BacktestSession
from backtests.options import SPECS_BY_KIND
from backtests.selectors import (
    SORTABLE,
    backtest_compare_list,
    backtest_get,
    backtest_list,
    backtest_result_get,
)
from backtests.services import (
    SessionFinishedError,
    backtest_cancel,
    backtest_create,
    backtest_rerun,
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

router = Router(tags=["backtests"])

MAX_DB_ID = 2**63 - 1
MAX_PAGE = 500
MAX_COMPARE = 10


# --- Schemas ---------------------------------------------------------------------------------
class CostsIn(Schema):
    maker_fee: float = Field(0.0002, description="Maker fee rate (0.0002 = 0.02%)")
    taker_fee: float = Field(0.0005, description="Taker fee rate, charged on every market fill")
    slippage: float = Field(0.0005, description="Slippage rate applied to every market fill")


class SizingIn(Schema):
    mode: Literal["fraction", "cash", "units"] = Field(
        "fraction", description="fraction of equity, fixed cash, or fixed units per entry")
    value: float = Field(1.0, description="the fraction (0, 1], the cash amount or the units")


class BacktestIn(Schema):
    name: str = Field("", max_length=200)
    description: str = Field("", max_length=5000)
    strategy: str = Field(description="A registered strategy name (GET /backtests/strategies)")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="Parameter values; missing ones take defaults")
    instrument_ids: list[int] = Field(min_length=1, max_length=20)
    timeframe: str = Field("1h", description=f"One of {', '.join(TIMEFRAME_MS)}")
    start: Instant = Field(description=f"{INSTANT_HELP}; inclusive")
    end: Instant = Field(description=f"{INSTANT_HELP}; exclusive")
    initial_cash: float = Field(10_000.0, gt=0)
    costs: CostsIn = Field(default_factory=CostsIn)
    sizing: SizingIn = Field(default_factory=SizingIn)
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Optional: " + ", ".join(
            f"{k} ({s.help or s.kind.__name__}; default {s.default})"
            for k, s in SPECS_BY_KIND["event_driven"].items()),
    )
    kind: Literal["vectorized", "event_driven"] = Field(
        "vectorized", description="vectorized (vectorbt) or event_driven (the trading kernel "
        "replaying the candles with the paper executor; see the options engine, risk_profile "
        "and strategy_weight)")





class MetricsOut(Schema):
    total_return: float | None = Field(description="Fraction, 0.12 = +12%")
    annualized_return: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None = Field(description="Fraction, <= 0")
    win_rate: float | None
    profit_factor: float | None
    trade_count: int | None
    lookahead_passed: bool | None


class BacktestOut(Schema):
    id: int
    name: str
    description: str
    kind: str
    strategy: str
    params: dict[str, Any]
    instruments: list[InstrumentRefOut]
    timeframe: str
    start: datetime
    end: datetime
    initial_cash: float
    costs: dict[str, Any]
    sizing: dict[str, Any]
    options: dict[str, Any]
    status: Literal["pending", "running", "completed", "failed", "cancelled"]
    progress: float = Field(description="0..1")
    progress_message: str
    cancel_requested: bool
    error_message: str
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rerun_of: int | None
    metrics: MetricsOut


class BacktestListOut(Schema):
    count: int
    items: list[BacktestOut]


class ResultsOut(Schema):
    session_id: int
    statistics: dict[str, Any] = Field(
        description="Sections performance, risk, trades, costs, benchmark (and instruments)")
    equity: dict[str, Any] = Field(
        description="timestamps (ms), equity, benchmark (buy and hold), drawdown; thinned to "
        "at most ~5,000 points keeping peaks and troughs")
    time_analysis: dict[str, Any] = Field(description="by_hour, by_weekday, monthly, rolling")
    monte_carlo: dict[str, Any]
    walk_forward: dict[str, Any]
    splits: dict[str, Any] = Field(description="in-sample / out-of-sample / walk-forward")
    overfitting: dict[str, Any] = Field(
        description="deflated Sharpe ratio and PBO of the in-sample parameter search")
    lookahead: dict[str, Any]
    kernel_summary: dict[str, Any] = Field(
        description="Event-driven runs: the engine and its agents, decisions by action, skips "
        "by reason, entries refused, circuit-breaker trips, orders, fills (empty otherwise)")
    trade_count: int
    duration_ms: int


class TradeOut(Schema):
    symbol: str
    side: Literal["long", "short"]
    size: float
    entry_time: int = Field(description="Entry fill: bar open time, epoch ms")
    exit_time: int
    entry_price: float
    exit_price: float | None
    fees: float
    slippage: float
    pnl: float
    return_: float | None = Field(alias="return", description="P&L over the entry value")
    bars_held: int
    status: Literal["open", "closed"]
    exit_reason: str


class TradesOut(Schema):
    session_id: int
    count: int
    offset: int
    limit: int
    trades: list[TradeOut]


class ParamOut(Schema):
    name: str
    kind: str
    default: Any
    low: float | None
    high: float | None
    choices: list[Any]
    log: bool
    description: str


class StrategyOut(Schema):
    name: str
    description: str
    params: list[ParamOut]


class CompareOut(Schema):
    ids: list[int]
    metrics: list[str]
    sessions: list[BacktestOut]
    best: dict[str, int | None] = Field(description="Per metric, the id of the best session")


class ListQuery(Schema):
    sort: str = Field("-created_at", description=f"One of {', '.join(SORTABLE)}; '-' = desc")
    status: Literal["pending", "running", "completed", "failed", "cancelled"] | None = None
    strategy: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=10_000_000)

    @field_validator("sort")
    @classmethod
    def _sortable(cls, value: str) -> str:
        if value.lstrip("-") not in SORTABLE:
            raise ValueError(f"must be one of {', '.join(SORTABLE)} (optionally prefixed by -)")
        return value


class PageQuery(Schema):
    limit: int = Field(100, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=10_000_000)


class CompareQuery(Schema):
    ids: str = Field(description=f"Comma-separated session ids, 2 to {MAX_COMPARE}",
                     max_length=300, pattern=r"^\s*\d{1,18}(\s*,\s*\d{1,18})*\s*$")

    def id_list(self) -> list[int]:
        return list(dict.fromkeys(int(x) for x in self.ids.split(",")))


class ErrorOut(Schema):
    detail: str




# --- Helpers ---------------------------------------------------------------------------------
def _session_or_404(session_id: int) -> BacktestSession:
    session = backtest_get(session_id) if 1 <= session_id <= MAX_DB_ID else None
    if session is None:
        raise Http404(f"backtest {session_id} not found")
    return session


def session_out(session: BacktestSession) -> dict[str, Any]:
    metrics = {name: getattr(session, name) for name in BacktestSession.HEADLINE_METRICS}
    return {
        **{f: getattr(session, f) for f in (
            "id", "name", "description", "kind", "strategy", "params", "timeframe", "start",
            "end", "initial_cash", "costs", "sizing", "options", "status", "progress",
            "progress_message", "cancel_requested", "error_message", "created_at",
            "started_at", "finished_at")},
        "rerun_of": session.rerun_of_id,
        "instruments": [
            {"id": i.pk, "exchange": i.exchange.code, "symbol": i.symbol,
             "market_type": i.market_type}
            for i in session.instruments.all()
        ],
        "created_by": session.created_by.get_username() if session.created_by else None,
        "metrics": {**metrics, "lookahead_passed": session.lookahead_passed},
    }



def _completed_result(session: BacktestSession) -> BacktestResult:
    result = backtest_result_get(session) if session.status == "completed" else None
    if result is None:
        raise SessionNotReady(f"backtest {session.pk} is {session.status}; no results stored")
    return result


class SessionNotReady(Exception):
    pass


# --- Endpoints -------------------------------------------------------------------------------
@router.post("", response={201: CreatedOut, 422: FieldErrorsOut}, summary="Start a backtest")
def create_backtest(request, payload: BacktestIn):
    try:
        session = backtest_create(user=request.user, **payload.dict())
    except ValidationError as exc:
        return Status(422, {"detail": field_errors(exc)})
    return Status(201, {"id": session.pk, "status": session.status})


@router.get("", response=BacktestListOut, summary="List backtests (sortable)")
def list_backtests(request, query: Query[ListQuery]):
    qs = backtest_list(sort=query.sort, status=query.status, strategy=query.strategy)
    items = qs[query.offset:query.offset + query.limit]
    return {"count": qs.count(), "items": [session_out(s) for s in items]}


@router.get("/strategies", response=list[StrategyOut], summary="Strategies and parameter spaces")
def strategies(request):
    return [{"name": s.name, "description": s.description, "params": s.param_space.as_list()}
            for s in list_strategies()]


@router.get("/compare", response=CompareOut, summary="Several backtests side by side")
def compare(request, query: Query[CompareQuery]):
    from backtests.comparison import COMPARE_METRICS, best_by_metric

    ids = query.id_list()
    if not 2 <= len(ids) <= MAX_COMPARE:
        raise ValidationError({"ids": f"give 2 to {MAX_COMPARE} distinct session ids"})
    sessions = backtest_compare_list(ids)
    missing = sorted(set(ids) - {s.pk for s in sessions})
    if missing:
        raise Http404(f"backtests {missing} not found")
    return {"ids": ids, "metrics": [m.key for m in COMPARE_METRICS],
            "sessions": [session_out(s) for s in sessions],
            "best": best_by_metric(sessions)}


@router.get("/{int:session_id}", response=BacktestOut, summary="Status and progress")
def get_backtest(request, session_id: int):
    return session_out(_session_or_404(session_id))


@router.get("/{int:session_id}/results", response={200: ResultsOut, 409: ErrorOut},
            summary="Stored results (no recomputation)")
def get_results(request, session_id: int):
    session = _session_or_404(session_id)
    try:
        result = _completed_result(session)
    except SessionNotReady as exc:
        return Status(409, {"detail": str(exc)})
    return Status(200, {
        "session_id": session.pk, "trade_count": len(result.trades),
        "duration_ms": result.duration_ms,
        **{name: getattr(result, name) for name in (
            "statistics", "equity", "time_analysis", "monte_carlo", "walk_forward", "splits",
            "overfitting", "lookahead", "kernel_summary")},
    })


@router.get("/{int:session_id}/trades", response={200: TradesOut, 409: ErrorOut},
            by_alias=True, summary="Trades, paginated")
def get_trades(request, session_id: int, query: Query[PageQuery]):
    session = _session_or_404(session_id)
    try:
        result = _completed_result(session)
    except SessionNotReady as exc:
        return Status(409, {"detail": str(exc)})
    page = result.trades[query.offset:query.offset + query.limit]
    return Status(200, {"session_id": session.pk, "count": len(result.trades),
                        "offset": query.offset, "limit": query.limit, "trades": page})


@router.post("/{int:session_id}/cancel",
             response={200: BacktestOut, 403: ErrorOut, 409: ErrorOut},
             summary="Cancel (pending: at once; running: after the current stage)")
def cancel(request, session_id: int):
    session = _session_or_404(session_id)
    try:
        session = backtest_cancel(session=session, user=request.user)
    except SessionFinishedError as exc:
        return Status(409, {"detail": str(exc)})
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from None
    return Status(200, session_out(session))


@router.post("/{int:session_id}/rerun", response={201: CreatedOut},
             summary="A new backtest with the same inputs")
def rerun(request, session_id: int):
    session = backtest_rerun(session=_session_or_404(session_id), user=request.user)
    return Status(201, {"id": session.pk, "status": session.status})
