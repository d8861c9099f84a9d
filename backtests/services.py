"""Backtest sessions: create, execute (in stages, with progress), cancel, re-run.

Guarantees:
- `backtest_create` takes kind "vectorized" or "event_driven" (with the
  event-driven options of `backtests.options`), validates every input first
  and raises one Django `ValidationError` whose `message_dict` names each bad field ("strategy",
  "params.<name>", "instrument_ids", "start", "costs.taker_fee", ...); nothing
  is stored for bad input. The Celery task is enqueued after commit. An
  engine that trades every instrument from one account (event-driven "agents")
  also needs them quoted in one asset, with distinct symbols.
- `backtest_execute` claims a pending session with a conditional UPDATE, so a
  duplicated or redelivered task runs it at most once; progress is written
  and published ("backtest.progress", after commit) after each stage; a
  cancel request is honoured between stages; any exception marks the session
  failed with its message, keeping its inputs. Results are stored once, in the
  same transaction that marks the session completed.
- Every state change publishes "backtest.progress" to `group_for_backtest(id)`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from backtests.engine.backtest import align_bars
from backtests.engine.config import BacktestConfig
from backtests.engine.costs import Costs
from backtests.engine.serialization import json_safe
from backtests.engine.sizing import SIZING_MODES, Sizing
from backtests.engine.strategies import UnknownStrategyError, get_strategy
from backtests.event_driven import ENGINES
from backtests.models import BacktestResult, BacktestSession
from backtests.options import options_validate
from backtests.selectors import candle_counts, instrument_list_by_ids, ms
from backtests.session_run import (
    RESULT_SECTIONS,
    STAGES,
    RunInputs,
    RunState,
    headline_metrics,
    session_warmup_bars,
    stage_starts,
)
from organism.realtime import group_for_backtest, publish_after_commit
from trading.engine.market import TIMEFRAME_MS, timeframe_ms
from trading.engine.strategy import ParameterError, Strategy
from trading.selectors import candle_arrays

log = logging.getLogger(__name__)

MIN_BARS = 100  # per instrument in the requested range
PROBE_BARS = 300
MAX_INSTRUMENTS = 20
MAX_ERROR_CHARS = 4_000
Status = BacktestSession.Status
ProgressCallback = Callable[[float, str], None]


class SessionFinishedError(Exception):
    """The session already finished; it can no longer be cancelled."""


# --- create ---------------------------------------------------------------------------------
def _strategy_errors(strategy: str, params: Mapping[str, Any]) -> tuple[Strategy | None,
                                                                       dict[str, Any], dict]:
    try:
        found = get_strategy(strategy)
    except UnknownStrategyError as exc:
        return None, {}, {"strategy": str(exc.args[0])}
    if not isinstance(params, Mapping):
        return found, {}, {"params": "must be an object of parameter values"}
    try:
        return found, found.param_space.validate(params), {}
    except ParameterError as exc:
        return found, {}, {f"params.{k}": v for k, v in exc.errors.items()}


def _probe_errors(strategy: Strategy, params: dict[str, Any], instrument, timeframe: str,
                  start: datetime) -> dict[str, str]:
    """Cross-parameter rules (e.g. fast < slow) surface when the strategy computes signals:
    run it on the first bars of the range."""
    start_ms = ms(start)
    bars = candle_arrays(instrument, timeframe, start_ms=start_ms,
                         end_ms=start_ms + PROBE_BARS * timeframe_ms(timeframe))
    try:
        strategy.signals(bars, params)
    except ParameterError as exc:
        return {f"params.{k}": v for k, v in exc.errors.items()}
    except Exception:  # not a parameter problem: the run itself will record what fails
        log.warning("strategy %s failed its parameter probe", strategy.name, exc_info=True)
    return {}


def _costs_errors(costs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    if not isinstance(costs, Mapping):
        return {}, {"costs": "must be an object with maker_fee, taker_fee, slippage"}
    known = Costs().as_dict()
    errors = {f"costs.{k}": f"unknown cost (expected one of {sorted(known)})"
              for k in costs if k not in known}
    for key in known.keys() & costs.keys():
        try:
            Costs(**{key: costs[key]})
        except (TypeError, ValueError) as exc:
            errors[f"costs.{key}"] = str(exc)
    return ({} if errors else {**known, **costs}), errors


def _sizing_errors(sizing: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    if not isinstance(sizing, Mapping):
        return {}, {"sizing": "must be an object with mode and value"}
    values = {**Sizing().as_dict(), **sizing}
    unknown = set(sizing) - set(Sizing().as_dict())
    if unknown:
        return {}, {"sizing": f"unknown keys {sorted(unknown)} (expected mode, value, granularity)"}
    if values["mode"] not in SIZING_MODES:
        return {}, {"sizing.mode": f"must be one of {list(SIZING_MODES)}"}
    try:
        return Sizing(**values).as_dict(), {}
    except (TypeError, ValueError) as exc:
        return {}, {"sizing.value": str(exc)}


def _range_errors(timeframe: str, start: datetime, end: datetime) -> dict[str, str]:
    errors = {}
    if timeframe not in TIMEFRAME_MS:
        errors["timeframe"] = f"unknown timeframe; expected one of {', '.join(TIMEFRAME_MS)}"
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or timezone.is_naive(value):
            errors[name] = "must be a timezone-aware date-time"
    if not errors and start >= end:
        errors["end"] = "must be after start"
    return errors


def _instrument_errors(instrument_ids: Sequence[int], timeframe: str, start: datetime,
                       end: datetime) -> tuple[list, dict[str, str]]:
    if not instrument_ids:
        return [], {"instrument_ids": "choose at least one instrument"}
    if len(set(instrument_ids)) > MAX_INSTRUMENTS:
        return [], {"instrument_ids": f"at most {MAX_INSTRUMENTS} instruments"}
    instruments = instrument_list_by_ids(list(instrument_ids))
    missing = sorted(set(instrument_ids) - {i.pk for i in instruments})
    if missing:
        return [], {"instrument_ids": f"unknown instrument ids {missing}"}
    counts = candle_counts([i.pk for i in instruments], timeframe, start_ms=ms(start),
                           end_ms=ms(end))
    short = [f"{i} has {counts[i.pk]} {timeframe} bars from {start:%Y-%m-%d %H:%M} to "
             f"{end:%Y-%m-%d %H:%M} UTC" for i in instruments if counts[i.pk] < MIN_BARS]
    if short:
        return [], {"instrument_ids": "not enough data: " + "; ".join(short)
                    + f" (at least {MIN_BARS} needed)"}
    return instruments, {}


def _shared_account_errors(options: Mapping[str, Any], instruments: list) -> dict[str, str]:
    """An engine trading every instrument from one account needs one quote asset and
    distinct symbols (the kernel keys positions by symbol)."""
    engine = ENGINES.get(str(options.get("engine")))
    if engine is None or not engine.shared_account or len(instruments) < 2:
        return {}
    quotes = sorted({i.quote for i in instruments})
    if len(quotes) > 1:
        return {"instrument_ids": f"the {engine.name} engine trades every instrument from one "
                                  f"account: choose instruments quoted in one asset, not {quotes}"}
    symbols = [i.symbol for i in instruments]
    if len(set(symbols)) < len(symbols):
        return {"instrument_ids": f"the {engine.name} engine trades every instrument from one "
                                  f"account: choose distinct symbols, not {symbols}"}
    return {}


def _config_errors(initial_cash: float, costs: dict, sizing: dict,
                   options: dict) -> dict[str, str]:
    if isinstance(initial_cash, bool) or not isinstance(initial_cash, (int, float)):
        return {"initial_cash": "must be a number"}
    try:
        _config(initial_cash, costs, sizing, options)
    except ValueError as exc:
        key = "initial_cash" if "initial_cash" in str(exc) else "options"
        return {key: str(exc)}
    return {}


def _config(initial_cash: float, costs: Mapping, sizing: Mapping, options: Mapping,
            ) -> BacktestConfig:
    return BacktestConfig(
        initial_cash=float(initial_cash), costs=Costs(**costs), sizing=Sizing(**sizing),
        allow_short=bool(options.get("allow_short")), sl_stop=options.get("stop_loss"),
        tp_stop=options.get("take_profit"), tsl_stop=options.get("trailing_stop"),
    )


def _validated(*, strategy, params, instrument_ids, timeframe, start, end, initial_cash, costs,
               sizing, options, kind) -> dict[str, Any]:
    """Cleaned inputs, or ValidationError listing every bad field."""
    errors: dict[str, Any] = {}
    if kind not in BacktestSession.Kind.values:
        errors["kind"] = f"must be one of {list(BacktestSession.Kind.values)}"
    found, clean_params, strategy_errors = _strategy_errors(strategy, params)
    clean_costs, costs_errors = _costs_errors(costs)
    clean_sizing, sizing_errors = _sizing_errors(sizing)
    clean_options, option_errors = options_validate(options, kind=kind)
    errors |= strategy_errors | costs_errors | sizing_errors
    errors |= {f"options.{k}": v for k, v in option_errors.items()}
    range_errors = _range_errors(timeframe, start, end)
    errors |= range_errors
    instruments: list = []
    if not range_errors:
        instruments, instrument_errors = _instrument_errors(instrument_ids, timeframe, start, end)
        errors |= instrument_errors or _shared_account_errors(clean_options, instruments)
    if found is not None and instruments and not strategy_errors:
        errors |= _probe_errors(found, clean_params, instruments[0], timeframe, start)
    if not (costs_errors or sizing_errors or option_errors):
        errors |= _config_errors(initial_cash, clean_costs, clean_sizing, clean_options)
    if errors:
        raise ValidationError(errors)
    return {"params": clean_params, "costs": clean_costs, "sizing": clean_sizing,
            "options": clean_options, "instruments": instruments}


def backtest_create(
    *,
    user,
    name: str,
    strategy: str,
    params: Mapping[str, Any],
    instrument_ids: Sequence[int],
    timeframe: str,
    start: datetime,
    end: datetime,
    initial_cash: float = 10_000.0,
    costs: Mapping[str, Any] | None = None,
    sizing: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    kind: str = "vectorized",
    description: str = "",
    rerun_of: BacktestSession | None = None,
    enqueue: bool = True,
) -> BacktestSession:
    """Validate, store a pending session, and (after commit) queue its run."""
    clean = _validated(
        strategy=strategy, params=params, instrument_ids=instrument_ids, timeframe=timeframe,
        start=start, end=end, initial_cash=initial_cash, costs=costs or {},
        sizing=sizing or {}, options=options or {}, kind=kind,
    )
    with transaction.atomic():
        session = BacktestSession.objects.create(
            name=(name or f"{strategy} {timeframe}").strip()[:200], description=description,
            kind=kind, strategy=strategy, params=clean["params"], timeframe=timeframe,
            start=start, end=end, initial_cash=float(initial_cash), costs=clean["costs"],
            sizing=clean["sizing"], options=clean["options"],
            created_by=user if getattr(user, "is_authenticated", False) else None,
            rerun_of=rerun_of,
        )
        session.instruments.set(clean["instruments"])
        _publish(session.pk, Status.PENDING, 0.0, "queued")
        if enqueue:
            transaction.on_commit(partial(_enqueue, session.pk))
    return session


def _enqueue(session_id: int) -> None:
    from backtests.tasks import backtest_run

    backtest_run.delay(session_id)


def backtest_rerun(*, session: BacktestSession, user) -> BacktestSession:
    """A new session with the same inputs (validated again: the data may have changed)."""
    return backtest_create(
        user=user, name=session.name, description=session.description,
        strategy=session.strategy, params=session.params,
        instrument_ids=list(session.instruments.values_list("pk", flat=True)),
        timeframe=session.timeframe, start=session.start, end=session.end,
        initial_cash=session.initial_cash, costs=session.costs, sizing=session.sizing,
        options=session.options, kind=session.kind, rerun_of=session,
    )


def backtest_cancel(*, session: BacktestSession, user) -> BacktestSession:
    """Cancel a pending session now, or ask a running one to stop after its current stage."""
    if not (user.is_staff or session.created_by_id in (None, user.pk)):
        raise PermissionDenied("only its creator or staff can cancel a backtest")
    now = timezone.now()
    with transaction.atomic():
        if BacktestSession.objects.filter(pk=session.pk, status=Status.PENDING).update(
            status=Status.CANCELLED, cancel_requested=True, finished_at=now,
            progress_message="cancelled before it started",
        ):
            _publish(session.pk, Status.CANCELLED, session.progress, "cancelled")
        elif BacktestSession.objects.filter(pk=session.pk, status=Status.RUNNING).update(
            cancel_requested=True, progress_message="cancelling…",
        ):
            _publish(session.pk, Status.RUNNING, session.progress, "cancelling…")
        else:
            raise SessionFinishedError(f"backtest #{session.pk} has already finished")
    session.refresh_from_db()
    return session


# --- execute --------------------------------------------------------------------------------
def _publish(session_id: int, status: str, progress: float, message: str) -> None:
    publish_after_commit(
        group_for_backtest(session_id), "backtest.progress",
        {"session_id": session_id, "status": str(status), "progress": float(progress),
         "message": message},
    )


def _set_progress(session_id: int, progress: float, message: str,
                  on_progress: ProgressCallback | None) -> bool:
    """Record progress of a running session; False if it is no longer running."""
    updated = BacktestSession.objects.filter(pk=session_id, status=Status.RUNNING).update(
        progress=progress, progress_message=message[:200]
    )
    if updated:
        _publish(session_id, Status.RUNNING, progress, message)
        if on_progress is not None:
            on_progress(progress, message)
    return bool(updated)


def _cancel_requested(session_id: int) -> bool:
    return BacktestSession.objects.filter(pk=session_id, cancel_requested=True).exists()


def _finish(session_id: int, status: str, message: str, **fields: Any) -> bool:
    updated = BacktestSession.objects.filter(pk=session_id, status=Status.RUNNING).update(
        status=status, finished_at=timezone.now(), progress_message=message[:200], **fields
    )
    if updated:
        progress = fields.get("progress")
        if progress is None:
            progress = BacktestSession.objects.values_list("progress", flat=True).get(
                pk=session_id)
        _publish(session_id, status, progress, message)
    return bool(updated)


def run_inputs_load(session: BacktestSession) -> RunInputs:
    """The session's strategy, config and bars (with indicator warm-up before the start)."""
    strategy = get_strategy(session.strategy)
    params = strategy.param_space.validate(session.params)
    step = timeframe_ms(session.timeframe)
    warmup = session_warmup_bars(session.kind, params, session.options)
    start_ms, end_ms = ms(session.start), ms(session.end)
    bars = [
        candle_arrays(instrument, session.timeframe, start_ms=start_ms - warmup * step,
                      end_ms=end_ms)
        for instrument in session.instruments.order_by("pk")
    ]
    aligned = align_bars(bars) if len(bars) > 1 else bars
    start_index = int((aligned[0].timestamps < start_ms).sum())
    if len(aligned[0]) - start_index < 2:
        raise ValueError("the instruments share fewer than two bars in the range")
    config = _config(session.initial_cash, session.costs, session.sizing, session.options)
    return RunInputs(strategy=strategy, params=params, config=config,
                     options=dict(session.options), bars=tuple(aligned), start_index=start_index,
                     kind=session.kind)


def _store(session_id: int, state: RunState, started: float) -> bool:
    sections = state.sections
    headline = headline_metrics(sections["statistics"])
    lookahead = sections.get("lookahead") or {}
    with transaction.atomic():
        finished = _finish(session_id, Status.COMPLETED, "completed", progress=1.0,
                           lookahead_passed=lookahead.get("passed"), **headline)
        if finished:
            BacktestResult.objects.create(
                session_id=session_id,
                duration_ms=int((time.perf_counter() - started) * 1000),
                **{name: json_safe(sections.get(name, {})) for name in RESULT_SECTIONS},
            )
    return finished


def _run_stages(session_id: int, inputs: RunInputs, state: RunState,
                on_progress: ProgressCallback | None) -> bool:
    """Run every stage; False when the session was cancelled (or taken over) midway."""
    for stage, start in zip(STAGES, stage_starts(), strict=True):
        if _cancel_requested(session_id):
            return False
        if not _set_progress(session_id, start, stage.label, on_progress):
            return False
        stage.run(inputs, state)
    return not _cancel_requested(session_id)


def backtest_execute(*, session_id: int, on_progress: ProgressCallback | None = None,
                     ) -> BacktestSession | None:
    """Run a pending session to completion; None if it was not pending (already claimed)."""
    claimed = BacktestSession.objects.filter(pk=session_id, status=Status.PENDING).update(
        status=Status.RUNNING, started_at=timezone.now(), progress=0.0,
        progress_message="loading data",
    )
    if claimed != 1:
        return None
    _publish(session_id, Status.RUNNING, 0.0, "loading data")
    started = time.perf_counter()
    try:
        inputs = run_inputs_load(BacktestSession.objects.get(pk=session_id))
        state = RunState()
        if _run_stages(session_id, inputs, state, on_progress):
            if _store(session_id, state, started) and on_progress is not None:
                on_progress(1.0, "completed")
        else:
            _finish(session_id, Status.CANCELLED, "cancelled")
    except Exception as exc:  # any failure is recorded on the session, inputs kept
        log.exception("backtest %s failed", session_id)
        _finish(session_id, Status.FAILED, "failed",
                error_message=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    return BacktestSession.objects.get(pk=session_id)



def backtests_recover(*, stale_after_s: int, now: datetime | None = None) -> dict[str, int]:
    """Put lost sessions back in the queue; returns how many of each kind.

    - RUNNING longer than `stale_after_s` (beyond the task's hard time limit): its worker
      died (kill -9, OOM, machine lost), so the session goes back to PENDING.
    - PENDING for longer than `stale_after_s`: its message was lost (e.g. the embedded
      in-memory broker was restarted), so it is enqueued again.
    Enqueuing twice is harmless: `backtest_execute` claims a session once.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=stale_after_s)
    dead = list(BacktestSession.objects.filter(status=Status.RUNNING, started_at__lt=cutoff)
                .values_list("pk", flat=True))
    reset = BacktestSession.objects.filter(pk__in=dead, status=Status.RUNNING).update(
        status=Status.PENDING, progress=0.0, progress_message="requeued: worker lost",
    )
    lost = list(
        BacktestSession.objects.filter(status=Status.PENDING, created_at__lt=cutoff, cancel_requested=False)
        .exclude(pk__in=dead).values_list("pk", flat=True)
    )
    for session_id in [*dead, *lost]:
        transaction.on_commit(partial(_enqueue, session_id))
    return {"reset": reset, "requeued": len(lost)}
