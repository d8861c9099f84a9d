"""The paper/live loop: one step per batch of closed candles, one worker per session at a time.

A step (`session_step`):
1. claims the session with a conditional UPDATE (`lease_until` past or empty,
   the step due) - a second worker gets 0 rows and does nothing;
2. restores the kernel from the last committed checkpoint;
3. applies the operator's pending commands (pause, resume, emergency stop,
   agent weights) and feeds the kernel the next candles (and prices);
4. writes the journal and the new checkpoint in ONE transaction, after
   checking under a row lock that it still holds the lease and that nobody
   committed since it restored (`checkpoint_seq`); the same UPDATE releases the
   lease and sets when the next step is due (sooner when the market is volatile
   or positions are open);
5. publishes the update after commit (prices as coalesced "price.tick" events)
   and sends the next step's task.

Guarantees: a worker killed at any point (kill -9) leaves either the previous
commit or the new one; its lease expires after `LEASE_SECONDS` and
`sessions_tick` (Celery beat) enqueues the step again. The resumed step
replays the same candles on the same state, and client order ids and journal
keys are deterministic, so no order, fill or journal entry is lost or
duplicated. Only one step chain lives per session: a step that is not due
(`next_step_at` in the future) does nothing and schedules nothing.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from organism.errors import OperationalError, TemporaryError
from organism.realtime import group_for_trading, publish_after_commit, publish_price
from trading.engine.execution.exchange_errors import TemporaryExchangeError
from trading.engine.feeds import Candle
from trading.engine.market import timeframe_ms
from trading.engine.risk import SessionState
from trading.lock_objects import trading_session_lock
from trading.models import SessionAlert, TradingSession
from trading.services.session_journal import StepSummary
from trading.services.session_runtime import (
    MarketSource,
    ReplaySource,
    SessionRuntime,
    SourceBatch,
    Timer,
    market_exchange,
    runtime_keep,
    runtime_restore,
    runtime_reuse,
)

log = logging.getLogger("organism.trading")
Status = TradingSession.Status
Command = TradingSession.Command

LEASE_SECONDS = 120
DUE_TOLERANCE = timedelta(milliseconds=300)
TICK_GRACE = timedelta(seconds=10)
MIN_DELAY_S = 0.2
MAX_BACKOFF_S = 300.0
MARKET_SETTLE_S = 5.0
STEPPING = (Status.RUNNING, Status.PAUSED)
TEMPORARY = (TemporaryError, TemporaryExchangeError)


class LeaseLost(Exception):
    """Another worker committed this session since this step restored it."""


class StepDeferred(TemporaryError):
    """A temporary failure (exchange unreachable...): the step is due again at `retry_at`."""

    def __init__(self, message: str, retry_at: datetime | None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


@dataclass(frozen=True)
class StepResult:
    outcome: str  # stepped | not_claimed | lost | error
    candles: int = 0
    status: str = ""
    next_step_at: datetime | None = None
    summary: StepSummary = field(default_factory=StepSummary)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# -- claiming ----------------------------------------------------------------------------------

def _claimable() -> Q:
    return (Q(status__in=[*STEPPING, Status.HALTED]) | ~Q(pending_command="")
            | Q(pending_agents__isnull=False))


def session_claim(*, session_id: int, worker: str, now: datetime | None = None,
                  ttl_seconds: float = LEASE_SECONDS, due_only: bool = True) -> bool:
    """Take the session's lease if nobody holds it; True for exactly one of concurrent callers."""
    now = now or timezone.now()
    rows = TradingSession.objects.filter(pk=session_id).filter(_claimable()).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    if due_only:
        rows = rows.filter(Q(next_step_at__isnull=True) | Q(next_step_at__lte=now + DUE_TOLERANCE))
    until = now + timedelta(seconds=ttl_seconds)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # a lease lost in a database crash only lets another worker claim the session
            # (whose commit is checked anyway): no need to wait for the disk here
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        return rows.update(claimed_by=worker, lease_until=until) == 1


def session_release(*, session_id: int, worker: str, next_step_at: datetime | None) -> bool:
    released = TradingSession.objects.filter(pk=session_id, claimed_by=worker).update(
        claimed_by="", lease_until=None, next_step_at=next_step_at)
    return released == 1


# -- stepping --------------------------------------------------------------------------------

def session_step(*, session_id: int, worker: str | None = None, timer: Timer | None = None,
                 schedule: bool = True) -> StepResult:
    """Process the session's next candles (see the module docstring)."""
    worker = worker or worker_name()
    if not session_claim(session_id=session_id, worker=worker):
        return StepResult("not_claimed")
    next_at: datetime | None = None
    try:
        result = _run_step(session_id, worker, timer)
        next_at = result.next_step_at
    except LeaseLost:
        session_release(session_id=session_id, worker=worker, next_step_at=None)
        log.warning("session %s: another worker committed first; this step is dropped",
                    session_id, extra={"session_id": session_id, "event": "lease_lost"})
        return StepResult("lost")
    except TEMPORARY as exc:
        next_at = _failed(session_id, exc, halt=False)
        session_release(session_id=session_id, worker=worker, next_step_at=next_at)
        raise StepDeferred(f"session {session_id}: {exc}", next_at) from exc
    except Exception as exc:
        _failed(session_id, exc, halt=True)
        session_release(session_id=session_id, worker=worker, next_step_at=None)
        raise OperationalError(f"session {session_id} halted: {exc}") from exc
    # the commit released the lease and set next_step_at in the same UPDATE
    if schedule and next_at is not None:
        session_step_enqueue(session_id, eta=next_at)
    return result


def _run_step(session_id: int, worker: str, timer: Timer | None) -> StepResult:
    session = TradingSession.objects.get(pk=session_id)
    if session.source == TradingSession.Source.MARKET and session.checkpoint is None:
        _market_source(session).catch_up()  # start on the latest history, not on stale bars
    runtime = runtime_reuse(session) if timer is None else None
    runtime = runtime or runtime_restore(session, timer=timer)
    command, agents = session.pending_command, session.pending_agents
    _apply_operator_changes(runtime, command, agents)
    batch = SourceBatch([])
    if session.status in STEPPING or (session.status == Status.HALTED and runtime.needs_watching):
        batch = _next_batch(runtime)
        for event in batch.events:
            runtime.process(event)
    saved = _commit(runtime, worker, command, agents, batch)
    runtime_keep(runtime, saved)
    next_at = saved.next_step_at
    candles = sum(isinstance(e, Candle) for e in batch.events)
    return StepResult("stepped", candles, saved.status, next_at, runtime.journal_summary)


def _apply_operator_changes(runtime: SessionRuntime, command: str, agents: Any) -> None:
    kernel = runtime.kernel
    if agents:
        for state in kernel.symbols.values():
            orchestrator = state.orchestrator
            weights = {k: float(v) for k, v in (agents.get("weights") or {}).items()
                       if k in orchestrator.agent_names}
            if weights:
                orchestrator.set_weights(weights)
            for name in orchestrator.agent_names if "enabled" in agents else ():
                enabled = not agents["enabled"] or name in agents["enabled"]
                orchestrator.enable(name) if enabled else orchestrator.disable(name)
    if command == Command.PAUSE:
        kernel.pause("paused by operator")
    elif command == Command.RESUME and kernel.state is not SessionState.ACTIVE:
        kernel.resume("resumed by operator")
    elif command == Command.EMERGENCY_STOP:
        kernel.emergency_stop(runtime.session.status_reason or "emergency stop by operator")


def _next_batch(runtime: SessionRuntime) -> SourceBatch:
    session, config = runtime.session, runtime.config
    if session.source == TradingSession.Source.REPLAY:
        source = ReplaySource(session, runtime.instruments, config.timeframe)
        return source.next_batch(runtime.last_candles(), session.candles_per_step)
    market = _market_source(session, runtime.instruments)
    return market.next_batch(runtime.last_candles(), ticks=runtime.needs_watching)


def _market_source(session: TradingSession, instruments: dict | None = None) -> MarketSource:
    instruments = instruments or {i.symbol: i for i in session.instruments.select_related("exchange")}
    first = next(iter(instruments.values()))
    return MarketSource(session, instruments, session.timeframe, market_exchange(session, first))


def _commit(runtime: SessionRuntime, worker: str, command: str, agents: Any,
            batch: SourceBatch) -> TradingSession:
    kernel = runtime.kernel
    with transaction.atomic():
        locked = trading_session_lock(runtime.session.pk)
        if locked is None or locked.claimed_by != worker:
            raise LeaseLost("the lease was taken over")
        if locked.checkpoint_seq != runtime.restored_seq:
            raise LeaseLost(f"checkpoint {locked.checkpoint_seq} != {runtime.restored_seq}")
        summary = runtime.journal.flush(locked)
        runtime.journal_summary = summary
        status, reason = _status_after(locked, runtime, command, batch)
        next_at = _next_step_at(runtime, status, batch)
        if batch.finished and locked.status != Status.STOPPED:
            _alert(locked, f"replay:finished:{locked.checkpoint_seq}",
                   SessionAlert.Level.INFO, "the replay reached the last stored candle")
        equity = kernel.guard.last_equity
        now = timezone.now()
        lasts = [v for v in runtime.last_candles().values() if v is not None]
        _update(locked, claimed_by="", lease_until=None, next_step_at=next_at,
                checkpoint=kernel.checkpoint(), checkpoint_at=now,
                checkpoint_seq=locked.checkpoint_seq + 1, heartbeat_at=now,
                last_candle_ms=max(lasts) if lasts else locked.last_candle_ms,
                status=status, status_reason=reason, steps=locked.steps + 1,
                equity=equity if equity is not None else locked.equity,
                realized_pnl=kernel.portfolio.realized_pnl,
                drawdown=_finite(kernel.guard.drawdown()),
                open_positions=len(kernel.portfolio.open_positions),
                last_prices=runtime.prices(), last_error="", errors_in_a_row=0,
                grid_state=(locked.grid_state or {}) | summary.grids,
                pending_command="" if locked.pending_command == command else locked.pending_command,
                pending_agents=None if locked.pending_agents == agents else locked.pending_agents,
                stopped_at=now if status == Status.STOPPED and locked.stopped_at is None
                else locked.stopped_at)
        _publish(locked, summary)
    return locked


def _status_after(locked: TradingSession, runtime: SessionRuntime, command: str,
                  batch: SourceBatch) -> tuple[str, str]:
    if batch.finished:
        return Status.STOPPED, "replay finished: no more stored candles"
    newer_command = locked.pending_command not in ("", command)
    if locked.status == Status.STOPPED or newer_command:
        return locked.status, locked.status_reason
    state = runtime.kernel.state
    if state is SessionState.HALTED:
        return Status.HALTED, locked.status_reason or _last_breaker(runtime) or "halted"
    if state is SessionState.PAUSED:
        return Status.PAUSED, _last_breaker(runtime) or locked.status_reason or "paused"
    return Status.RUNNING, ""


def _last_breaker(runtime: SessionRuntime) -> str:
    trips = runtime.kernel.guard.breaker.events
    return trips[-1].reason[:300] if trips else ""


def _update(session: TradingSession, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(session, name, value)
    session.save(update_fields=list(fields))


def _finite(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else 0.0


def _next_step_at(runtime: SessionRuntime, status: str, batch: SourceBatch) -> datetime | None:
    """When the next step is due: never for a stopped session or a halted flat one; the
    cadence, shortened while positions or orders need watching and when the last candle
    was volatile; for the market, no later than the next candle's close."""
    session = runtime.session
    if status == Status.STOPPED:
        return None
    if status == Status.HALTED and not runtime.needs_watching:
        return None
    delay = session.cadence_seconds
    if runtime.needs_watching:
        delay *= 0.75 if session.source == TradingSession.Source.REPLAY else 0.5
    if _volatile(runtime, batch):
        delay *= 0.5
    if session.source == TradingSession.Source.MARKET:
        delay = min(delay, _until_next_close(runtime))
    return timezone.now() + timedelta(seconds=max(MIN_DELAY_S, delay))


def _volatile(runtime: SessionRuntime, batch: SourceBatch) -> bool:
    """The last candle moved more than 2.5 times a typical bar of the last 20 days."""
    per_day = 86_400_000 / runtime.config.bar_ms
    for event in reversed(batch.events):
        if isinstance(event, Candle) and event.close > 0:
            typical = runtime.kernel.symbols[event.symbol].stats.daily_volatility / math.sqrt(per_day)
            return typical > 0 and (event.high - event.low) / event.close > 2.5 * typical
    return False


def _until_next_close(runtime: SessionRuntime) -> float:
    span = timeframe_ms(runtime.config.timeframe)
    lasts = [v for v in runtime.last_candles().values() if v is not None]
    if not lasts:
        return runtime.session.cadence_seconds
    next_close_ms = min(lasts) + 2 * span
    now_ms = int(timezone.now().timestamp() * 1000)
    return max(MIN_DELAY_S, (next_close_ms - now_ms) / 1000 + MARKET_SETTLE_S)


# -- failures, publishing, scheduling --------------------------------------------------------

def _failed(session_id: int, exc: BaseException, *, halt: bool) -> datetime | None:
    """Record a failed step; halt the session unless the failure is temporary."""
    message = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        locked = trading_session_lock(session_id)
        if locked is None:
            return None
        failures = locked.errors_in_a_row + 1
        backoff = min(MAX_BACKOFF_S, locked.cadence_seconds * 2 ** min(failures, 10))
        next_at = None if halt else timezone.now() + timedelta(seconds=backoff)
        fields: dict[str, Any] = {"last_error": message, "errors_in_a_row": failures}
        if halt:
            fields |= {"status": Status.HALTED, "status_reason": f"step failed: {message}"[:300]}
        _update(locked, **fields)
        level = SessionAlert.Level.ERROR if halt else SessionAlert.Level.WARNING
        _alert(locked, f"error:{uuid.uuid4().hex}", level,
               ("step failed, session halted: " if halt else "step failed, retrying: ") + message)
        _publish(locked, StepSummary(alerts=1))
    log.log(logging.ERROR if halt else logging.WARNING, "session %s step failed: %s",
            session_id, message, extra={"session_id": session_id, "event": "step_failed"})
    return next_at


def _alert(session: TradingSession, key: str, level: str, message: str) -> None:
    SessionAlert.objects.get_or_create(session=session, key=key, defaults={
        "ts_ms": int(timezone.now().timestamp() * 1000), "kind": SessionAlert.Kind.SYSTEM,
        "level": level, "message": message,
    })


def _publish(session: TradingSession, summary: StepSummary) -> None:
    """After commit: one "trading.update" per step, and each symbol's last price as a
    "price.tick" (coalesced by the publisher: never more than one per tick interval)."""
    group = group_for_trading(session.pk)
    publish_after_commit(group, "trading.update", {
        "session_id": session.pk, "kind": "step", "kinds": summary.kinds,
        "status": session.status, "prices": summary.prices, "candles": summary.candles,
        "equity": None if session.equity is None else float(session.equity),
        "last_ts_ms": summary.last_ts_ms,
    })
    ts = summary.last_ts_ms or int(timezone.now().timestamp() * 1000)
    for symbol, price in summary.prices.items():
        publish_price(group, {"session_id": session.pk, "symbol": symbol, "price": float(price),
                              "ts": ts})


def session_step_enqueue(session_id: int, *, eta: datetime | None = None) -> None:
    """Send the step task once the current transaction commits (now outside one)."""
    from trading.tasks import session_step as task

    def send() -> None:
        task.apply_async(args=[session_id], eta=eta, queue="trading")

    transaction.on_commit(send)


def sessions_tick(*, now: datetime | None = None) -> list[int]:
    """Enqueue a step for every session whose chain of steps was lost (killed worker)."""
    now = now or timezone.now()
    lease_free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    overdue = Q(next_step_at__lt=now - TICK_GRACE)
    stepping = Q(status__in=STEPPING) & (Q(next_step_at__isnull=True) | overdue)
    flattening = Q(status=Status.HALTED) & overdue
    commands = ~Q(pending_command="") | Q(pending_agents__isnull=False)
    due = TradingSession.objects.filter(lease_free).filter(stepping | flattening | commands)
    ids = list(due.order_by("pk").values_list("pk", flat=True))
    for session_id in ids:
        session_step_enqueue(session_id)
    return ids
