"""Trading-session API, mounted at /api/v1/trading/: sessions CRUD, control, mode, config, agents.

The journal (positions, orders, trades, decisions, analytics), parameter sets,
exchange accounts and metrics are sub-routers of this one (`api_journal`,
`api_parameters`, `api_metrics`), so `organism.api` mounts one router.
Unknown ids are 404; bad input (schema or service `ValidationError`) is a
422 with field details, never a 500. Live trading (mode, start) and
exchange accounts are for staff users only (403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import Http404
from ninja import Body, Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from trading.api_journal import router as journal_router
from trading.api_metrics import router as metrics_router
from trading.api_parameters import router as parameters_router
from trading.models import ExchangeAccount, Instrument, ParameterSet, TradingSession
from trading.services import sessions as services
from trading.session_config import session_profile
from trading.session_selectors import agent_states, session_get, session_list

router = Router(tags=["trading sessions"])
router.add_router("", journal_router)
router.add_router("", parameters_router)
router.add_router("", metrics_router)

Tolerance = Literal["conservative", "moderate", "aggressive"]
SessionStatus = Literal["stopped", "running", "paused", "halted"]


class ErrorOut(Schema):
    detail: str


class SessionOut(Schema):
    id: int
    name: str
    mode: Literal["paper", "live"]
    status: SessionStatus
    status_reason: str
    pending_command: str
    source: Literal["replay", "market"]
    symbols: list[str]
    instrument_ids: list[int]
    timeframe: str
    capital: float
    risk_profile: Tolerance
    parameter_set_id: int | None
    exchange_account_id: int | None
    equity: float | None
    pnl: float | None = Field(description="Equity minus capital (quote currency)")
    realized_pnl: float
    drawdown: float
    open_positions: int
    last_prices: dict[str, float]
    health: Literal["ok", "late", "stale", "idle"]
    heartbeat_at: datetime | None
    last_candle_ms: int | None = Field(description="Open time of the last processed candle")
    replay_start_ms: int | None
    cadence_seconds: float
    candles_per_step: int
    steps: int
    last_error: str
    is_demo: bool
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None


class SessionIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    instrument_ids: list[int] = Field(min_length=1, max_length=10)
    capital: float = Field(gt=0, le=1e12)
    risk_profile: Tolerance = "moderate"
    timeframe: str = Field("1h", max_length=4)
    mode: Literal["paper", "live"] = "paper"
    exchange_account_id: int | None = None
    confirm_live: bool = Field(False, description="Required (true) for live mode")
    parameter_set_id: int | None = None
    source: Literal["replay", "market"] | None = None
    replay_start_ms: int | None = Field(None, ge=0)
    cadence_seconds: float | None = Field(None, ge=0.2, le=86_400)
    candles_per_step: int = Field(1, ge=1, le=10_000)
    agent_weights: dict[str, float] = Field(default_factory=dict)
    agents_enabled: list[str] = Field(default_factory=list)
    overrides: dict[str, Any] = Field(default_factory=dict,
                                      description="Risk-profile fields to override")


class SessionPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    cadence_seconds: float | None = Field(None, ge=0.2, le=86_400)
    candles_per_step: int | None = Field(None, ge=1, le=10_000)


class StartIn(Schema):
    confirm_live: bool = False


class EmergencyIn(Schema):
    reason: str = Field("emergency stop", max_length=300)


class ModeIn(Schema):
    mode: Literal["paper", "live"]
    confirm_live: bool = False
    exchange_account_id: int | None = None


class ConfigOut(Schema):
    overrides: dict[str, Any]
    resolved: dict[str, Any] = Field(description="Settings resolved at the first start "
                                     "(risk profile derived from the market); empty before")
    profile: dict[str, Any] | None = Field(description="The profile in force (with overrides)")


class ConfigIn(Schema):
    overrides: dict[str, Any]


class AgentOut(Schema):
    name: str
    enabled: bool
    weight: float = Field(description="The operator's base weight")
    current_weight: float | None = Field(description="The kernel's adapted weight (normalised)")
    hit_rate: float | None
    outcomes: int


class AgentsIn(Schema):
    weights: dict[str, float] | None = None
    enabled: list[str] | None = None


class WeightIn(Schema):
    weight: float = Field(ge=0, le=100)


class ListQuery(Schema):
    status: SessionStatus | None = None
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0)


def session_or_404(session_id: int) -> TradingSession:
    session = session_get(session_id)
    if session is None:
        raise Http404("No such trading session")
    return session


def _require_staff(request, what: str) -> None:
    if not request.user.is_staff:
        raise HttpError(403, f"{what} is for staff users")


def session_out(session: TradingSession) -> dict[str, Any]:
    instruments = sorted(session.instruments.all(), key=lambda i: i.symbol)
    return {
        **{f: getattr(session, f) for f in (
            "id", "name", "mode", "status", "status_reason", "pending_command", "source",
            "timeframe", "risk_profile", "parameter_set_id", "exchange_account_id", "drawdown",
            "open_positions", "last_prices", "health", "heartbeat_at", "last_candle_ms",
            "replay_start_ms", "cadence_seconds", "candles_per_step", "steps", "last_error",
            "is_demo", "created_at", "started_at", "stopped_at")},
        "symbols": [i.symbol for i in instruments], "instrument_ids": [i.pk for i in instruments],
        "capital": float(session.capital), "realized_pnl": float(session.realized_pnl),
        "equity": None if session.equity is None else float(session.equity),
        "pnl": None if session.pnl is None else float(session.pnl),
    }


def _fresh(session: TradingSession) -> dict[str, Any]:
    return session_out(session_or_404(session.pk))


def _object_or_422(model, pk: int | None, field: str):
    if pk is None:
        return None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise ValidationError({field: f"no {model._meta.verbose_name} with id {pk}"})
    return found


@router.get("/sessions", response=list[SessionOut], summary="List trading sessions")
def list_sessions(request, query: Query[ListQuery]):
    rows = session_list(status=query.status)[query.offset:query.offset + query.limit]
    return [session_out(s) for s in rows]


@router.post("/sessions", response={201: SessionOut}, summary="Create a session (stopped)")
def create_session(request, payload: SessionIn):
    instruments = list(Instrument.objects.filter(pk__in=payload.instrument_ids))
    if len(instruments) != len(set(payload.instrument_ids)):
        raise ValidationError({"instrument_ids": "unknown instrument id(s)"})
    if payload.mode == "live":
        _require_staff(request, "live trading")
    session = services.session_create(
        name=payload.name, instruments=instruments, capital=payload.capital,
        risk_profile=payload.risk_profile, timeframe=payload.timeframe, mode=payload.mode,
        exchange_account=_object_or_422(ExchangeAccount, payload.exchange_account_id,
                                        "exchange_account_id"),
        confirm_live=payload.confirm_live,
        parameter_set=_object_or_422(ParameterSet, payload.parameter_set_id, "parameter_set_id"),
        source=payload.source, replay_start_ms=payload.replay_start_ms,
        cadence_seconds=payload.cadence_seconds, candles_per_step=payload.candles_per_step,
        agent_weights=payload.agent_weights, agents_enabled=payload.agents_enabled,
        overrides=payload.overrides, user=request.user,
    )
    return Status(201, _fresh(session))


@router.get("/sessions/{int:session_id}", response=SessionOut, summary="A session")
def get_session(request, session_id: int):
    return session_out(session_or_404(session_id))


@router.patch("/sessions/{int:session_id}", response=SessionOut, summary="Rename, change cadence")
def update_session(request, session_id: int, payload: SessionPatch):
    session = services.session_update(session=session_or_404(session_id), user=request.user,
                                      **payload.dict(exclude_none=True))
    return _fresh(session)


@router.delete("/sessions/{int:session_id}", response={204: None}, summary="Delete a stopped session")
def delete_session(request, session_id: int):
    services.session_delete(session=session_or_404(session_id), user=request.user)
    return Status(204, None)


@router.post("/sessions/{int:session_id}/start", response=SessionOut,
             summary="Start (or resume) a session")
def start_session(request, session_id: int, payload: Body[StartIn | None] = None):
    session = session_or_404(session_id)
    if session.mode == "live":
        _require_staff(request, "live trading")
    started = services.session_start(session=session, user=request.user,
                                     confirm_live=bool(payload and payload.confirm_live))
    return _fresh(started)


@router.post("/sessions/{int:session_id}/pause", response=SessionOut,
             summary="Pause: no new entries, exits keep working")
def pause_session(request, session_id: int):
    return _fresh(services.session_pause(session=session_or_404(session_id), user=request.user))


@router.post("/sessions/{int:session_id}/stop", response=SessionOut, summary="Stop stepping")
def stop_session(request, session_id: int):
    return _fresh(services.session_stop(session=session_or_404(session_id), user=request.user))


@router.post("/sessions/{int:session_id}/emergency-stop", response=SessionOut,
             summary="Cancel every order, flatten every position, halt")
def emergency_stop_session(request, session_id: int,
                           payload: Body[EmergencyIn | None] = None):
    reason = payload.reason if payload else "emergency stop"
    session = services.session_emergency_stop(session=session_or_404(session_id), reason=reason,
                                              user=request.user)
    return _fresh(session)


@router.put("/sessions/{int:session_id}/mode", response=SessionOut,
            summary="Switch paper / live (stopped sessions that never traded)")
def set_mode(request, session_id: int, payload: ModeIn):
    if payload.mode == "live":
        _require_staff(request, "live trading")
    account = _object_or_422(ExchangeAccount, payload.exchange_account_id, "exchange_account_id")
    session = services.session_mode_set(session=session_or_404(session_id), mode=payload.mode,
                                        confirm_live=payload.confirm_live,
                                        exchange_account=account, user=request.user)
    return _fresh(session)


@router.get("/sessions/{int:session_id}/config", response=ConfigOut, summary="Configuration")
def get_config(request, session_id: int):
    session = session_or_404(session_id)
    profile = None
    if session.config:
        profile = session_profile(session.config, session.overrides or {}).as_dict()
    return {"overrides": session.overrides or {}, "resolved": session.config or {},
            "profile": profile}


@router.put("/sessions/{int:session_id}/config", response=ConfigOut,
            summary="Replace the risk-profile overrides (applied from the next step)")
def put_config(request, session_id: int, payload: ConfigIn):
    services.session_config_update(session=session_or_404(session_id),
                                   overrides=payload.overrides, user=request.user)
    return get_config(request, session_id)


@router.get("/sessions/{int:session_id}/agents", response=list[AgentOut],
            summary="Agents, weights and tracked accuracy")
def get_agents(request, session_id: int):
    return agent_states(session_or_404(session_id))


@router.put("/sessions/{int:session_id}/agents", response=list[AgentOut],
            summary="Set agent weights and/or the enabled agents")
def put_agents(request, session_id: int, payload: AgentsIn):
    session = services.session_agents_update(session=session_or_404(session_id),
                                             weights=payload.weights, enabled=payload.enabled,
                                             user=request.user)
    return agent_states(session)


@router.put("/sessions/{int:session_id}/agents/{agent}/weight", response=list[AgentOut],
            summary="Set one agent's weight")
def put_agent_weight(request, session_id: int, agent: str, payload: WeightIn):
    session = services.session_agents_update(session=session_or_404(session_id),
                                             weights={agent: payload.weight}, user=request.user)
    return agent_states(session)
