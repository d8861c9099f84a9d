"""Backtest sessions: create (validated), execute in stages, store once, cancel, fail, re-run."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import numpy as np
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from backtests.curves import curve_indices
from backtests.engine.backtest import run_backtest
from backtests.engine.config import BacktestConfig
from backtests.engine.strategies import get_strategy
from backtests.models import BacktestResult, BacktestSession
from backtests.services import (
    SessionFinishedError,
    backtest_cancel,
    backtest_create,
    backtest_execute,
    backtest_rerun,
)
from backtests.session_run import warmup_bars
from organism.realtime import group_for_backtest, validate_event
from tests.backtests.conftest import END, FAST_OPTIONS, START
from tests.factories import InstrumentFactory
from trading.models import Candle
from trading.selectors import candle_arrays

pytestmark = pytest.mark.django_db


def _run(create_kwargs, **overrides) -> BacktestSession:
    session = backtest_create(**create_kwargs(**overrides), enqueue=False)
    return backtest_execute(session_id=session.pk)


def test_it_runs_a_session_on_real_candles_and_stores_every_section(create_kwargs):
    # when
    session = _run(create_kwargs)
    # then
    assert session.status == "completed" and session.progress == 1.0, session.error_message
    result = BacktestResult.objects.get(session=session)
    performance = result.statistics["performance"]
    assert performance["bars"] == 8760  # 2022 in 1h bars: warm-up bars are not traded
    assert set(result.statistics) >= {"performance", "risk", "trades", "costs", "benchmark"}
    assert set(result.equity) >= {"timestamps", "equity", "benchmark", "drawdown"}
    assert result.equity["timestamps"][0] == int(START.timestamp() * 1000)
    assert len(result.trades) == result.statistics["trades"]["trades"] > 10
    assert set(result.time_analysis) == {"by_hour", "by_weekday", "monthly", "rolling"}
    assert result.monte_carlo["n_paths"] == 1_000
    assert len(result.walk_forward["windows"]) == 3
    assert set(result.splits["side_by_side"]["sharpe"]) == {
        "in_sample", "out_of_sample", "walk_forward"}
    assert 0 <= result.overfitting["pbo"]["pbo"] <= 1
    assert result.lookahead["passed"] is True and session.lookahead_passed is True


def test_analyses_that_cannot_run_are_skipped_with_the_reason(create_kwargs):
    # given 100 bars: too few for 50 walk-forward windows
    end = START + timedelta(hours=100)
    # when
    session = _run(create_kwargs, end=end, options={**FAST_OPTIONS, "walk_forward_windows": 50,
                                                    "monte_carlo_paths": 0})
    # then the session completes and says what it skipped and why
    result = session.result
    assert session.status == "completed", session.error_message
    assert result.walk_forward["skipped"] and "too few" in result.walk_forward["reason"]
    assert result.monte_carlo == {"skipped": True, "reason": "Monte Carlo turned off (0 paths)"}
    assert result.statistics["performance"]["bars"] == 100


def test_headline_metrics_are_copied_from_the_stored_statistics(create_kwargs):
    # when
    session = _run(create_kwargs)
    # then
    stats = session.result.statistics
    assert session.total_return == stats["performance"]["total_return"]
    assert session.sharpe == stats["performance"]["sharpe"]
    assert session.max_drawdown == stats["performance"]["max_drawdown"] < 0
    assert session.trade_count == stats["trades"]["trades"]


def test_stored_results_are_the_engine_results_and_reload_unchanged(create_kwargs, btc_hourly):
    # given a completed session
    session = _run(create_kwargs)
    # when the engine runs the same inputs directly, and the result is read back later
    strategy = get_strategy("sma_crossover")
    params = strategy.param_space.validate({"fast": 10, "slow": 50})
    warmup = warmup_bars(params) * 3_600_000
    start_ms, end_ms = int(START.timestamp() * 1000), int(END.timestamp() * 1000)
    bars = candle_arrays(btc_hourly, "1h", start_ms=start_ms - warmup, end_ms=end_ms)
    direct = run_backtest(bars, strategy, params, BacktestConfig(),
                          start=int((bars.timestamps < start_ms).sum()))
    reloaded = BacktestResult.objects.get(session_id=session.pk)
    # then
    assert reloaded.statistics["performance"]["final_equity"] == pytest.approx(
        direct.final_equity, rel=1e-12)
    assert len(reloaded.trades) == len(direct.trades)
    assert reloaded.trades[0]["entry_price"] == pytest.approx(direct.trades.entry_price[0])
    assert reloaded.equity["equity"][-1] == pytest.approx(direct.final_equity)


def test_the_stored_drawdown_curve_reaches_the_reported_maximum(create_kwargs):
    session = _run(create_kwargs)
    equity = session.result.equity
    assert equity["points"] == len(equity["equity"]) <= 5_000 < equity["source_points"] == 8760
    assert min(equity["drawdown"]) == pytest.approx(session.max_drawdown)
    assert equity["equity"][-1] == session.result.statistics["performance"]["final_equity"]


def test_a_million_point_curve_is_thinned_keeping_its_peak_and_deepest_drawdown():
    # given a million-bar random-walk equity curve
    rng = np.random.default_rng(3)
    equity = 10_000 * np.exp(np.cumsum(rng.normal(0, 0.001, 1_000_000)))
    drawdown = equity / np.maximum.accumulate(equity) - 1
    # when
    keep = curve_indices(equity, drawdown, 5_000)
    # then
    assert len(keep) <= 5_002 and keep[0] == 0 and keep[-1] == len(equity) - 1
    assert np.all(np.diff(keep) > 0)
    assert equity[keep].max() == equity.max() and drawdown[keep].min() == drawdown.min()


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"strategy": "no_such_strategy"}, "strategy", "unknown strategy"),
        ({"params": {"fast": 1}}, "params.fast", "between 2 and 200"),
        ({"params": {"fast": 60, "slow": 50}}, "params.slow", "greater than fast"),
        ({"params": {"fast": 10, "speed": 3}}, "params.speed", "unknown parameter"),
        ({"instrument_ids": [987_654]}, "instrument_ids", "unknown instrument"),
        ({"instrument_ids": []}, "instrument_ids", "at least one"),
        ({"start": END, "end": START}, "end", "after start"),
        ({"timeframe": "3h"}, "timeframe", "unknown timeframe"),
        ({"costs": {"taker_fee": 0.5}}, "costs.taker_fee", "taker_fee"),
        ({"sizing": {"mode": "fraction", "value": 2}}, "sizing.value", "no leverage"),
        ({"options": {"monte_carlo_paths": -1}}, "options.monte_carlo_paths", "between"),
        ({"kind": "tick_replay"}, "kind", "event_driven"),
        ({"options": {"engine": "agents"}}, "options.engine", "only for event-driven"),
        ({"kind": "event_driven", "options": {"engine": "turbo"}}, "options.engine",
         "['strategy', 'agents']"),
        ({"kind": "event_driven", "options": {"risk_profile": "reckless"}},
         "options.risk_profile", "conservative"),
        ({"kind": "event_driven", "options": {"strategy_weight": -1}},
         "options.strategy_weight", "between 0 and 10"),
        ({"kind": "event_driven", "options": {"allow_short": True}}, "options.allow_short",
         "long only"),
        ({"kind": "event_driven", "options": {"stop_loss": 0.05}}, "options.stop_loss",
         "exit on the engine's decisions"),
    ],
)
def test_it_rejects_bad_input_with_field_errors(create_kwargs, overrides, field, fragment):
    # when
    with pytest.raises(ValidationError) as caught:
        backtest_create(**create_kwargs(**overrides), enqueue=False)
    # then
    assert fragment in " ".join(caught.value.message_dict[field])
    assert not BacktestSession.objects.exists()


def test_a_range_without_enough_data_names_the_instrument(create_kwargs, btc_hourly):
    # given an instrument without candles next to one with
    empty = InstrumentFactory(base="ETH", symbol="ETH/USDT")
    # when
    with pytest.raises(ValidationError) as caught:
        backtest_create(**create_kwargs(instrument_ids=[btc_hourly.pk, empty.pk]), enqueue=False)
    # then
    message = " ".join(caught.value.message_dict["instrument_ids"])
    assert "binance:ETH/USDT has 0 1h bars" in message and "BTC" not in message


def test_it_reports_every_bad_field_at_once(create_kwargs):
    with pytest.raises(ValidationError) as caught:
        backtest_create(**create_kwargs(strategy="nope", costs={"slippage": -1},
                                        options={"bogus": 1}), enqueue=False)
    assert set(caught.value.message_dict) >= {"strategy", "costs.slippage", "options.bogus"}


def test_the_task_runs_after_commit(create_kwargs, settings, django_capture_on_commit_callbacks):
    # given Celery running tasks in-process
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        session = backtest_create(**create_kwargs())
    pending = BacktestSession.objects.get(pk=session.pk).status
    for callback in callbacks:
        callback()
    # then nothing ran before the commit, and the queued task completed it
    assert pending == "pending"
    assert BacktestSession.objects.get(pk=session.pk).status == "completed"


def test_the_task_is_named_queued_and_time_limited_as_operators_route_it():
    from backtests.tasks import backtest_run
    from organism.celery import app

    assert backtest_run.name == "backtests.run"
    assert app.amqp.router.route({}, backtest_run.name)["queue"].name == "backtests"
    assert backtest_run.acks_late and backtest_run.soft_time_limit < backtest_run.time_limit


def test_a_session_runs_at_most_once(create_kwargs):
    # given
    session = _run(create_kwargs)
    # when a duplicate task arrives
    again = backtest_execute(session_id=session.pk)
    # then it finds nothing to claim and the stored result is untouched
    assert again is None
    assert BacktestResult.objects.filter(session=session).count() == 1


def test_a_pending_session_is_cancelled_at_once_and_never_runs(create_kwargs, user):
    # given
    session = backtest_create(**create_kwargs(user=user), enqueue=False)
    # when
    backtest_cancel(session=session, user=user)
    ran = backtest_execute(session_id=session.pk)
    # then
    session.refresh_from_db()
    assert ran is None and session.status == "cancelled" and session.finished_at is not None


def test_a_running_session_stops_at_the_next_stage(create_kwargs, user):
    # given a session whose owner cancels it while the simulation stage is running
    session = backtest_create(**create_kwargs(user=user), enqueue=False)
    seen = []

    def cancel_during_first_stage(progress: float, message: str) -> None:
        seen.append(message)
        if len(seen) == 1:
            backtest_cancel(session=BacktestSession.objects.get(pk=session.pk), user=user)

    # when
    finished = backtest_execute(session_id=session.pk, on_progress=cancel_during_first_stage)
    # then
    assert finished.status == "cancelled" and finished.cancel_requested
    assert seen == ["Simulating trades"]
    assert not BacktestResult.objects.filter(session=session).exists()


def test_only_the_owner_or_staff_can_cancel(create_kwargs, user, staff_user, django_user_model):
    # given
    session = backtest_create(**create_kwargs(user=user), enqueue=False)
    stranger = django_user_model.objects.create_user(username="bob", password="x" * 12)
    # when / then
    with pytest.raises(PermissionDenied):
        backtest_cancel(session=session, user=stranger)
    assert backtest_cancel(session=session, user=staff_user).status == "cancelled"


def test_a_finished_session_cannot_be_cancelled(create_kwargs, staff_user):
    session = _run(create_kwargs)
    with pytest.raises(SessionFinishedError):
        backtest_cancel(session=session, user=staff_user)


def test_a_failed_run_keeps_its_error_and_inputs(create_kwargs, btc_hourly):
    # given a session whose candles are deleted before it runs
    session = backtest_create(**create_kwargs(params={"fast": 12, "slow": 40}), enqueue=False)
    Candle.objects.filter(instrument=btc_hourly).delete()
    # when
    failed = backtest_execute(session_id=session.pk)
    # then
    assert failed.status == "failed" and failed.finished_at is not None
    assert failed.error_message.startswith("ValueError")
    assert failed.params == {"fast": 12, "slow": 40}
    assert list(failed.instruments.all()) == [btc_hourly]
    assert not BacktestResult.objects.filter(session=failed).exists()


def test_a_rerun_is_a_new_session_with_the_same_inputs(create_kwargs, user):
    # given
    original = _run(create_kwargs, user=user)
    # when
    copy = backtest_rerun(session=original, user=user)
    # then
    assert copy.pk != original.pk and copy.rerun_of == original and copy.status == "pending"
    for field in ("strategy", "params", "timeframe", "start", "end", "costs", "sizing",
                  "options", "initial_cash"):
        assert getattr(copy, field) == getattr(original, field)
    assert list(copy.instruments.all()) == list(original.instruments.all())


def test_two_instruments_trade_one_account_on_shared_bars(create_kwargs, btc_hourly):
    # given ETH with the same year of real candles
    from tests.factories import candles_create
    from tests.market_data import load_bars

    eth = InstrumentFactory(base="ETH", symbol="ETH/USDT")
    candles_create(eth, load_bars("ETHUSDT", "1h", start="2021-12-01", end="2023-01-01"))
    # when
    session = _run(create_kwargs, instrument_ids=[btc_hourly.pk, eth.pk])
    # then
    stats = session.result.statistics
    assert session.status == "completed", session.error_message
    assert set(stats["instruments"]) == {"BTC/USDT", "ETH/USDT"}
    per_instrument = [s["performance"]["final_equity"] for s in stats["instruments"].values()]
    assert sum(per_instrument) == pytest.approx(stats["performance"]["final_equity"])
    assert {t["symbol"] for t in session.result.trades} == {"BTC/USDT", "ETH/USDT"}


# --- events -------------------------------------------------------------------------------------
def _collect_events(session_id: int, action, *, until: str, seconds: float = 10.0) -> list[dict]:
    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group_for_backtest(session_id), channel)
        try:
            await sync_to_async(action)()
            events = []
            while not events or events[-1]["payload"]["status"] != until:
                events.append(await asyncio.wait_for(layer.receive(channel), seconds))
            return events
        finally:
            await layer.group_discard(group_for_backtest(session_id), channel)

    return async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_progress_events_are_published_after_each_stage(create_kwargs, unique_session_ids):
    # given
    session = backtest_create(**create_kwargs(), enqueue=False)
    # when
    events = _collect_events(session.pk, lambda: backtest_execute(session_id=session.pk),
                             until="completed")
    # then every event matches its schema, progress only grows, and the stages are announced
    for event in events:
        assert event["event"] == "backtest.progress"
        validate_event("backtest.progress", event["payload"])
        assert event["payload"]["session_id"] == session.pk
    progress = [e["payload"]["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 1.0
    messages = [e["payload"]["message"] for e in events]
    assert {"Simulating trades", "Walk-forward optimisation",
            "Checking the signals for lookahead"} <= set(messages)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_cancel_is_never_announced(create_kwargs, staff_user, unique_session_ids):
    # given a pending session
    session = backtest_create(**create_kwargs(), enqueue=False)

    def cancel_in_a_rolled_back_transaction_then_run():
        with pytest.raises(RuntimeError), transaction.atomic():
            backtest_cancel(session=session, user=staff_user)
            raise RuntimeError("roll back")
        backtest_execute(session_id=session.pk)

    # when
    events = _collect_events(session.pk, cancel_in_a_rolled_back_transaction_then_run,
                             until="completed")
    # then the first event is the run starting: the cancel was never published
    assert events[0]["payload"]["status"] == "running"
    assert "cancelled" not in {e["payload"]["status"] for e in events}
