"""Trading sessions: create, configure, start, pause, stop, emergency-stop, switch mode.

Every function is one transaction. Operator commands that must reach the
kernel (pause, resume, emergency stop, agent weights) are recorded on the
session (`pending_command`, `pending_agents`) and a step is enqueued after
commit: the worker that holds the session's lease applies them, so the
kernel is only ever changed by one process. Live trading is refused with a
clear `ValidationError` unless ORGANISM_LIVE_TRADING is set, the session has
an exchange account with keys, and the operator explicitly confirmed it.
Events ("trading.update") are published after commit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from organism.realtime import group_for_trading, publish_after_commit
from organism.services import audit_record
from trading.engine.market import TIMEFRAME_MS, timeframe_ms
from trading.engine.strategy import ParameterError
from trading.lock_objects import parameter_set_lock, trading_session_lock
from trading.models import Candle, ExchangeAccount, Instrument, ParameterSet, TradingSession
from trading.selectors import candle_arrays
from trading.session_config import (
    AGENT_NAMES,
    MIN_HISTORY_BARS,
    instrument_json,
    kernel_config,
    resolved_config,
    risk_overrides_errors,
    session_profile,
    weights_errors,
)

Status = TradingSession.Status
MAX_INSTRUMENTS = 10
MAX_CAPITAL = Decimal("1e12")
DEFAULT_CADENCE = {"replay": 2.0, "market": 30.0}
DEFAULT_REPLAY_DAYS = 30
LIVE_CONFIRMATION = "LIVE"


# -- checks ----------------------------------------------------------------------------------

def live_mode_errors(*, account: ExchangeAccount | None, confirm_live: bool,
                     instruments: Sequence[Instrument] = ()) -> dict[str, str]:
    """Why live trading is refused for this account ({} when it is allowed)."""
    errors: dict[str, str] = {}
    if not settings.ORGANISM_LIVE_TRADING:
        errors["mode"] = ("live trading is disabled on this installation: set "
                          "ORGANISM_LIVE_TRADING=1 to allow it; paper trading needs nothing")
    if account is None:
        errors["exchange_account"] = "live trading needs an exchange account"
    elif not account.has_keys:
        errors["exchange_account"] = f"exchange account {account} has no API keys"
    elif any(i.exchange_id != account.exchange_id for i in instruments):
        errors["exchange_account"] = "the account's exchange must be the instruments' exchange"
    if not confirm_live:
        errors["confirm_live"] = ("live trading sends real orders with real money: confirm it "
                                  "explicitly (confirm_live=true)")
    return errors


def _capital(value: Any) -> Decimal:
    try:
        capital = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({"capital": "must be a number"}) from None
    if not capital.is_finite() or capital <= 0 or capital > MAX_CAPITAL:
        raise ValidationError({"capital": f"must be a positive amount up to {MAX_CAPITAL:,.0f}"})
    return capital


def _instruments_errors(instruments: Sequence[Instrument], timeframe: str) -> dict[str, str]:
    if not instruments:
        return {"instruments": "choose at least one instrument"}
    if len(instruments) > MAX_INSTRUMENTS:
        return {"instruments": f"at most {MAX_INSTRUMENTS} instruments"}
    if len({i.symbol for i in instruments}) != len(instruments):
        return {"instruments": "each symbol once"}
    if len({i.quote for i in instruments}) > 1 or len({i.exchange_id for i in instruments}) > 1:
        return {"instruments": "instruments must share one exchange and one quote currency"}
    for instrument in instruments:
        stored = Candle.objects.filter(instrument=instrument, timeframe=timeframe).count()
        if stored < MIN_HISTORY_BARS:
            return {"instruments": f"{instrument} has {stored} stored {timeframe} candles; "
                    f"at least {MIN_HISTORY_BARS} are needed (load or fetch candles first)"}
    return {}


def _agents_errors(weights: Mapping[str, Any], enabled: Sequence[str]) -> dict[str, str]:
    errors = {f"agent_weights.{k}": v for k, v in weights_errors(weights).items()}
    unknown = [n for n in enabled if n not in AGENT_NAMES]
    if unknown:
        errors["agents_enabled"] = f"unknown agents {unknown}; known: {', '.join(AGENT_NAMES)}"
    return errors


def _raise(errors: Mapping[str, str]) -> None:
    if errors:
        raise ValidationError(dict(errors))


def default_replay_start(instruments: Sequence[Instrument], timeframe: str,
                         days: int = DEFAULT_REPLAY_DAYS) -> int | None:
    """A replay start `days` before the last stored candle (leaving warm-up bars before it)."""
    last = (Candle.objects.filter(instrument__in=instruments, timeframe=timeframe)
            .order_by("-open_time").values_list("open_time", flat=True).first())
    first = (Candle.objects.filter(instrument__in=instruments, timeframe=timeframe)
             .order_by("open_time").values_list("open_time", flat=True).first())
    if last is None or first is None:
        return None
    span = timeframe_ms(timeframe)
    return max(last - days * 86_400_000, first + MIN_HISTORY_BARS * span)


# -- creating and editing --------------------------------------------------------------------

@transaction.atomic
def session_create(
    *,
    name: str,
    instruments: Sequence[Instrument],
    capital: Any,
    risk_profile: str = TradingSession.Tolerance.MODERATE,
    timeframe: str = "1h",
    mode: str = TradingSession.Mode.PAPER,
    exchange_account: ExchangeAccount | None = None,
    confirm_live: bool = False,
    parameter_set: ParameterSet | None = None,
    source: str | None = None,
    replay_start_ms: int | None = None,
    cadence_seconds: float | None = None,
    candles_per_step: int = 1,
    agent_weights: Mapping[str, float] | None = None,
    agents_enabled: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    is_demo: bool = False,
    user: AbstractBaseUser | None = None,
) -> TradingSession:
    """A stopped session; everything not given is derived when it starts."""
    name = (name or "").strip()
    errors: dict[str, str] = {} if name else {"name": "must not be empty"}
    capital_value = _capital(capital)
    if timeframe not in TIMEFRAME_MS:
        errors["timeframe"] = f"must be one of {', '.join(TIMEFRAME_MS)}"
    if risk_profile not in TradingSession.Tolerance.values:
        errors["risk_profile"] = f"must be one of {', '.join(TradingSession.Tolerance.values)}"
    if mode not in TradingSession.Mode.values:
        errors["mode"] = "must be paper or live"
    _raise(errors)
    instruments = list(instruments)
    errors |= _instruments_errors(instruments, timeframe)
    source = source or (TradingSession.Source.MARKET if mode == "live"
                        else TradingSession.Source.REPLAY)
    errors |= _source_errors(source, mode, cadence_seconds, candles_per_step)
    if mode == TradingSession.Mode.LIVE:
        errors |= live_mode_errors(account=exchange_account, confirm_live=confirm_live,
                                   instruments=instruments)
    weights, enabled = dict(agent_weights or {}), list(agents_enabled or [])
    errors |= _agents_errors(weights, enabled)
    errors |= {f"overrides.{k}": v for k, v in risk_overrides_errors(overrides or {}).items()}
    _raise(errors)
    if parameter_set is not None:
        parameter_set = parameter_set_lock(parameter_set.pk)  # no in-place edit meanwhile
    if source == TradingSession.Source.REPLAY and replay_start_ms is None:
        replay_start_ms = default_replay_start(instruments, timeframe)
    session = TradingSession.objects.create(
        name=name[:120], mode=mode, exchange_account=exchange_account, timeframe=timeframe,
        capital=capital_value, risk_profile=risk_profile, parameter_set=parameter_set,
        agents_enabled=enabled, agent_weights=weights, overrides=dict(overrides or {}),
        source=source, replay_start_ms=replay_start_ms,
        cadence_seconds=cadence_seconds or DEFAULT_CADENCE[source],
        candles_per_step=candles_per_step, is_demo=is_demo, created_by=user,
    )
    session.instruments.set(instruments)
    audit_record(user=user, action="trading_session.create", target=str(session.pk),
                 details={"mode": mode, "symbols": [i.symbol for i in instruments]})
    return session


def _source_errors(source: str, mode: str, cadence: float | None, per_step: int) -> dict[str, str]:
    errors: dict[str, str] = {}
    if source not in TradingSession.Source.values:
        errors["source"] = "must be replay or market"
    elif mode == TradingSession.Mode.LIVE and source != TradingSession.Source.MARKET:
        errors["source"] = "a live session trades the market, not a replay"
    if cadence is not None and not (math.isfinite(cadence) and 0.2 <= cadence <= 86_400):
        errors["cadence_seconds"] = "must be between 0.2 and 86400 seconds"
    if not 1 <= per_step <= 10_000:
        errors["candles_per_step"] = "must be between 1 and 10000"
    return errors


@transaction.atomic
def session_update(*, session: TradingSession, name: str | None = None,
                   cadence_seconds: float | None = None, candles_per_step: int | None = None,
                   user: AbstractBaseUser | None = None) -> TradingSession:
    locked = _locked(session)
    errors = _source_errors(locked.source, locked.mode, cadence_seconds,
                            candles_per_step or locked.candles_per_step)
    if name is not None and not name.strip():
        errors["name"] = "must not be empty"
    _raise(errors)
    if name is not None:
        locked.name = name.strip()[:120]
    if cadence_seconds is not None:
        locked.cadence_seconds = cadence_seconds
    if candles_per_step is not None:
        locked.candles_per_step = candles_per_step
    locked.save(update_fields=["name", "cadence_seconds", "candles_per_step"])
    return locked


@transaction.atomic
def session_config_update(*, session: TradingSession, overrides: Mapping[str, Any],
                          user: AbstractBaseUser | None = None) -> TradingSession:
    """Replace the operator's risk-profile overrides (applied from the next step)."""
    errors = risk_overrides_errors(overrides)
    _raise({f"overrides.{k}": v for k, v in errors.items()})
    locked = _locked(session)
    if locked.config:
        try:
            session_profile(locked.config, overrides)
        except ParameterError as exc:
            _raise({f"overrides.{k}": v for k, v in exc.errors.items()})
    locked.overrides = dict(overrides)
    locked.save(update_fields=["overrides"])
    audit_record(user=user, action="trading_session.config", target=str(locked.pk),
                 details={"overrides": locked.overrides})
    _publish(locked, "config")
    return locked


@transaction.atomic
def session_agents_update(*, session: TradingSession, weights: Mapping[str, float] | None = None,
                          enabled: Sequence[str] | None = None,
                          user: AbstractBaseUser | None = None) -> TradingSession:
    """Set agent weights and/or the enabled agents; a running kernel gets them at its next step."""
    locked = _locked(session)
    new_weights = locked.agent_weights | dict(weights or {})
    new_enabled = list(enabled) if enabled is not None else list(locked.agents_enabled)
    _raise(_agents_errors(new_weights, new_enabled))
    if enabled is not None and not new_enabled:
        _raise({"agents_enabled": "enable at least one agent"})
    locked.agent_weights, locked.agents_enabled = new_weights, new_enabled
    pending = dict(locked.pending_agents or {})
    if weights:
        pending["weights"] = pending.get("weights", {}) | dict(weights)
    if enabled is not None:
        pending["enabled"] = new_enabled
    # a kernel that never ran is built with the new settings; a running one gets them next step
    locked.pending_agents = (pending or None) if locked.checkpoint is not None else None
    locked.save(update_fields=["agent_weights", "agents_enabled", "pending_agents"])
    audit_record(user=user, action="trading_session.agents", target=str(locked.pk),
                 details={"weights": dict(weights or {}), "enabled": enabled})
    _nudge(locked)
    _publish(locked, "agents")
    return locked


@transaction.atomic
def session_mode_set(*, session: TradingSession, mode: str, confirm_live: bool = False,
                     exchange_account: ExchangeAccount | None = None,
                     user: AbstractBaseUser | None = None) -> TradingSession:
    """Switch paper <-> live on a stopped session that has not traded yet."""
    locked = _locked(session)
    if mode not in TradingSession.Mode.values:
        _raise({"mode": "must be paper or live"})
    if locked.status != Status.STOPPED:
        _raise({"mode": "stop the session before switching its mode"})
    if locked.checkpoint is not None and mode != locked.mode:
        _raise({"mode": "this session has already traded; create a new session to trade "
                        f"{mode} (its journal stays with this one)"})
    account = exchange_account or locked.exchange_account
    if mode == TradingSession.Mode.LIVE:
        errors = live_mode_errors(account=account, confirm_live=confirm_live,
                                  instruments=list(locked.instruments.all()))
        _raise(errors)
        locked.source = TradingSession.Source.MARKET
    locked.mode, locked.exchange_account = mode, account
    locked.save(update_fields=["mode", "exchange_account", "source"])
    audit_record(user=user, action="trading_session.mode", target=str(locked.pk),
                 details={"mode": mode})
    _publish(locked, "status")
    return locked


@transaction.atomic
def session_delete(*, session: TradingSession, user: AbstractBaseUser | None = None) -> None:
    locked = _locked(session)
    if locked.status != Status.STOPPED or (locked.lease_until and locked.lease_until > timezone.now()):
        _raise({"status": "stop the session (and let its last step finish) before deleting it"})
    audit_record(user=user, action="trading_session.delete", target=str(locked.pk),
                 details={"name": locked.name})
    locked.delete()


# -- running ---------------------------------------------------------------------------------

@transaction.atomic
def session_start(*, session: TradingSession, confirm_live: bool = False,
                  user: AbstractBaseUser | None = None) -> TradingSession:
    """Run a stopped session, or resume a paused/halted one."""
    locked = _locked(session)
    if locked.status == Status.RUNNING and not locked.pending_command:
        return locked
    if locked.mode == TradingSession.Mode.LIVE:
        _raise(live_mode_errors(account=locked.exchange_account, confirm_live=confirm_live,
                                instruments=list(locked.instruments.all())))
    if not locked.config:
        locked.config = _resolve(locked)
    resuming = locked.checkpoint is not None
    locked.status, locked.status_reason = Status.RUNNING, ""
    locked.pending_command = TradingSession.Command.RESUME if resuming else ""
    locked.started_at, locked.stopped_at = timezone.now(), None
    locked.next_step_at, locked.errors_in_a_row = timezone.now(), 0
    locked.save(update_fields=["config", "status", "status_reason", "pending_command",
                               "started_at", "stopped_at", "next_step_at", "errors_in_a_row"])
    audit_record(user=user, action="trading_session.start", target=str(locked.pk))
    _nudge(locked)
    _publish(locked, "status")
    return locked


@transaction.atomic
def session_pause(*, session: TradingSession, user: AbstractBaseUser | None = None) -> TradingSession:
    """No new entries from the next step on; open positions keep their exits."""
    locked = _locked(session)
    if locked.status != Status.RUNNING:
        _raise({"status": f"only a running session can be paused (it is {locked.status})"})
    return _command(locked, Status.PAUSED, TradingSession.Command.PAUSE, "pause", user)


@transaction.atomic
def session_stop(*, session: TradingSession, user: AbstractBaseUser | None = None) -> TradingSession:
    """Stop stepping. Positions and orders stay as they are (emergency stop flattens)."""
    locked = _locked(session)
    if locked.status == Status.STOPPED:
        return locked
    locked.status, locked.status_reason = Status.STOPPED, "stopped by operator"
    locked.stopped_at, locked.next_step_at = timezone.now(), None
    if locked.pending_command != TradingSession.Command.EMERGENCY_STOP:
        locked.pending_command = ""
    locked.save(update_fields=["status", "status_reason", "stopped_at", "next_step_at",
                               "pending_command"])
    audit_record(user=user, action="trading_session.stop", target=str(locked.pk))
    _publish(locked, "status")
    return locked


@transaction.atomic
def session_emergency_stop(*, session: TradingSession, reason: str = "emergency stop",
                           user: AbstractBaseUser | None = None) -> TradingSession:
    """Halt: cancel every order and flatten every position at the next price."""
    locked = _locked(session)
    if locked.checkpoint is None and locked.status == Status.STOPPED:
        _raise({"status": "this session has never traded: nothing to stop"})
    locked.status_reason = (reason or "emergency stop")[:300]
    return _command(locked, Status.HALTED, TradingSession.Command.EMERGENCY_STOP,
                    "emergency_stop", user)


def _command(locked: TradingSession, status: str, command: str, action: str,
             user: AbstractBaseUser | None) -> TradingSession:
    locked.status, locked.pending_command = status, command
    locked.next_step_at = timezone.now()
    locked.save(update_fields=["status", "status_reason", "pending_command", "next_step_at"])
    audit_record(user=user, action=f"trading_session.{action}", target=str(locked.pk))
    _nudge(locked)
    _publish(locked, "status")
    return locked


def _locked(session: TradingSession) -> TradingSession:
    locked = trading_session_lock(session.pk)
    if locked is None:
        raise ValidationError("the session no longer exists")
    return locked


def _resolve(session: TradingSession) -> dict[str, Any]:
    """The session's resolved settings (risk profile from the bars before its start)."""
    instruments = list(session.instruments.select_related("exchange").order_by("symbol"))
    _raise(_instruments_errors(instruments, session.timeframe))
    first = instruments[0]
    end = session.replay_start_ms if session.source == TradingSession.Source.REPLAY else None
    span = timeframe_ms(session.timeframe)
    start = None if end is None else end - 30 * 86_400_000
    history = candle_arrays(first, session.timeframe, start_ms=start, end_ms=end)
    if end is None:
        history = history.slice(max(0, len(history) - 30 * 86_400_000 // span), len(history))
    values = session.parameter_set.values if session.parameter_set else {}
    params = ({"id": session.parameter_set.pk, "name": session.parameter_set.name,
               "version": session.parameter_set.version} if session.parameter_set else None)
    specs = [instrument_json(i.symbol, i.base, i.quote, i.tick_size, i.lot_size, i.min_notional)
             for i in instruments]
    try:
        resolved = resolved_config(
            tolerance=session.risk_profile, capital=float(session.capital),
            timeframe=session.timeframe, instruments=specs, history=history, values=values,
            parameter_set=params,
        )
        kernel_config(session_key=f"check-{session.pk}", config=resolved,
                      weights=session.agent_weights, enabled=session.agents_enabled,
                      overrides=session.overrides)  # everything the kernel will check
    except ParameterError as exc:
        raise ValidationError(exc.errors) from None
    except ValueError as exc:
        raise ValidationError({"parameter_set": str(exc)}) from None
    return resolved


def _nudge(session: TradingSession) -> None:
    """Enqueue a step right after commit (the lease makes a duplicate harmless)."""
    from trading.services.session_loop import session_step_enqueue

    session_step_enqueue(session.pk)


def _publish(session: TradingSession, kind: str) -> None:
    publish_after_commit(group_for_trading(session.pk), "trading.update", {
        "session_id": session.pk, "kind": kind, "status": session.status,
    })
