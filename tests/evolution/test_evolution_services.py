"""Evolution services: creating runs (validation), the serial runner, stopping, market data
with funding, opening a strategy as a backtest, the scheduled run."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from backtests.engine.strategies import get_strategy
from backtests.models import BacktestSession
from evolution.engine.datasets import with_funding
from evolution.engine.genome import Genome, decode
from evolution.market_data import instrument_bars
from evolution.models import EvolutionRun, GenerationStat, Strategy, Trial
from evolution.services import (
    RunFinishedError,
    evolution_run_create,
    evolution_run_serial,
    evolution_run_stop,
    evolution_scheduled_run,
    generation_dispatch,
    strategy_open_as_backtest,
)
from tests.evolution.conftest import END, START
from tests.market_data import load_bars, load_funding


def _serial_run(run_kwargs, **overrides) -> EvolutionRun:
    run = evolution_run_create(**run_kwargs(**overrides), enqueue=False)
    return evolution_run_serial(run_id=run.pk)


# --- create ---------------------------------------------------------------------------------
def test_it_stores_a_pending_run_with_its_engine_configuration(run_kwargs, markets):
    # when
    run = evolution_run_create(**run_kwargs(population=12, generations=5, random_seed=7),
                               enqueue=False)
    # then
    assert run.status == "pending" and run.completed_generations == 0
    assert run.ga_config["population"] == 12 and run.ga_config["seed"] == 7
    assert run.evaluation_config["backtest"]["costs"]["taker_fee"] == 0.0005
    assert run.objectives == ["sharpe", "consistency", "max_drawdown", "turnover"]
    spans = run.windows
    assert spans["in_sample"][0] == int(START.timestamp() * 1000)
    assert spans["in_sample"][1] == spans["out_of_sample"][0]
    assert spans["walk_forward"][1] == int(END.timestamp() * 1000)
    in_sample = spans["in_sample"][1] - spans["in_sample"][0]
    whole = spans["walk_forward"][1] - spans["in_sample"][0]
    assert in_sample / whole == pytest.approx(0.6, abs=0.001)
    bars = {i["symbol"]: i["bars"] for i in run.dataset["instruments"]}
    assert bars["BTC/USDT"]["in_sample"] + bars["BTC/USDT"]["out_of_sample"] + \
        bars["BTC/USDT"]["walk_forward"] == 2880  # Jan..Apr 2022, hourly
    assert sorted(run.instruments.values_list("pk", flat=True)) == [m.pk for m in markets]


def test_a_run_ranks_on_the_objectives_it_was_given(run_kwargs):
    # when
    run = evolution_run_create(**run_kwargs(objectives=["max_drawdown", "sharpe"]),
                               enqueue=False)
    # then: stored in canonical order, and the GA of the run selects on them
    assert run.objectives == ["sharpe", "max_drawdown"]
    assert run.ga_config["objectives"] == ["sharpe", "max_drawdown"]


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"seeds": ["ema_crossover", "martingale"]}, "seeds", "unknown seeds ['martingale']"),
        ({"seeds": ["sma_trend_filter", "atr_stop_loss"]}, "seeds", "at least one entry seed"),
        ({"population": 2}, "population", "between 4 and 1000"),
        ({"generations": 0}, "generations", "between 1 and 500"),
        ({"batch_size": 50}, "batch_size", "must not exceed the population"),
        ({"costs": {"taker_fee": 0.0}}, "costs.taker_fee", "always scored with costs"),
        ({"costs": {"slippage": 0.5}}, "costs.slippage", "must be in [0, 0.1)"),
        ({"costs": {"rebate": 0.1}}, "costs.rebate", "unknown cost"),
        ({"objectives": ["sharpe", "sharpe"]}, "objectives", "distinct names among"),
        ({"objectives": ["profit"]}, "objectives", "distinct names among"),
        ({"split": [0.5, 0.5]}, "split", "three positive fractions"),
        ({"start": datetime(2030, 1, 1, tzinfo=UTC), "end": datetime(2030, 6, 1, tzinfo=UTC)},
         "instrument_ids", "has 0 1h bars in the in-sample span"),
        ({"instrument_ids": [424_242]}, "instrument_ids", "unknown instrument ids [424242]"),
        ({"end": datetime(2021, 6, 1, tzinfo=UTC)}, "end", "after start"),
        ({"start": datetime(2022, 1, 1)}, "start", "timezone-aware"),
        ({"timeframe": "7m"}, "timeframe", "unknown timeframe"),
        ({"random_seed": -1}, "random_seed", "between 0 and"),
    ],
)
def test_it_refuses_bad_input_naming_the_field(run_kwargs, overrides, field, fragment):
    # when
    with pytest.raises(ValidationError) as caught:
        evolution_run_create(**run_kwargs(**overrides), enqueue=False)
    # then nothing is stored and the field says why
    assert fragment in " ".join(caught.value.message_dict[field])
    assert not EvolutionRun.objects.exists()


def test_it_names_every_bad_field_at_once(run_kwargs):
    with pytest.raises(ValidationError) as caught:
        evolution_run_create(**run_kwargs(population=1, seeds=["nope"],
                                          costs={"slippage": 0}), enqueue=False)
    assert {"population", "seeds", "costs.slippage"} <= set(caught.value.message_dict)


# --- the serial runner (acceptance on a small run) ------------------------------------------
def test_a_seeded_run_improves_and_reports_only_honest_strategies(run_kwargs):
    # when a seeded run of 10 genomes x 4 generations runs in-process
    run = _serial_run(run_kwargs, population=10, generations=4, random_seed=3, validate_top=3)
    # then it completed and its best combined fitness never fell and rose overall (elitism)
    assert run.status == "completed" and run.progress == 1.0 and run.completed_generations == 4
    best = list(GenerationStat.objects.filter(run=run).values_list("best_combined", flat=True))
    assert len(best) == 4
    assert all(b >= a for a, b in zip(best, best[1:], strict=False))
    assert best[-1] > best[0]
    # every evaluation is in the ledger, and the run-level DSR and PBO come from it
    assert Trial.objects.filter(run=run).count() == 40
    assert run.overfitting["recorded"] == 40 and 0 <= run.deflated_sharpe <= 1
    assert run.pbo is not None and 0 <= run.pbo <= 1
    # every reported strategy passed the lookahead checks and has OOS figures next to IS
    reported = run.hall_of_fame["best"]
    assert reported and set(run.validation) == {e["identity"] for e in reported[:3]}
    for identity, validation in run.validation.items():
        assert validation["lookahead_passed"] is True
        assert set(validation["side_by_side"]["sharpe"]) == {"in_sample", "out_of_sample",
                                                             "walk_forward"}
        strategy = Strategy.objects.get(identity=identity)
        assert strategy.lookahead_passed and strategy.lookahead["thorough"]["passed"]
        assert strategy.metrics["side_by_side"] == validation["side_by_side"]
    assert not Strategy.objects.filter(trials__reason__gt="").exists()


def test_strategies_keep_their_lineage(run_kwargs):
    # when
    run = _serial_run(run_kwargs, population=10, generations=3, random_seed=5, validate_top=0)
    # then children of generation >= 1 point at their stored parents
    children = Strategy.objects.filter(run=run, generation__gte=1)
    linked = [c for c in children if c.parents.exists()]
    assert linked
    for child in linked:
        named = set(child.genome["parents"])
        assert set(child.parents.values_list("identity", flat=True)) <= named
        assert all(p.generation < child.generation for p in child.parents.all())
        assert child.identity.startswith(f"{child.seed_or_combo}_{child.generation}_")


# --- stop -----------------------------------------------------------------------------------
def test_a_pending_run_stops_at_once(run_kwargs):
    run = evolution_run_create(**run_kwargs(), enqueue=False)
    stopped = evolution_run_stop(run=run)
    assert stopped.status == "stopped" and stopped.finished_at is not None
    with pytest.raises(RunFinishedError):
        evolution_run_stop(run=run)


def test_a_running_run_stops_after_its_current_generation(run_kwargs,
                                                          django_capture_on_commit_callbacks):
    # given a run whose first generation is out for evaluation
    run = evolution_run_create(**run_kwargs(), enqueue=False)
    with django_capture_on_commit_callbacks(execute=False):
        plan = generation_dispatch(run_id=run.pk, generation=0)
    # when a stop is requested, then the generation comes back
    stopping = evolution_run_stop(run=run)
    from evolution.tasks import collect_generation, evaluate_batch

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        results = [evaluate_batch(run.pk, 0, list(b), plan.dataset_key,
                                  dict(plan.evaluation_config)) for b in plan.batches]
        collect_generation(results, run.pk, 0)
    # then the generation is stored and nothing more is sent
    run.refresh_from_db()
    assert stopping.status == "running" and stopping.stop_requested
    assert run.status == "stopped" and run.completed_generations == 1
    assert GenerationStat.objects.filter(run=run).count() == 1 and run.checkpoint
    assert not [c for c in callbacks if isinstance(c, functools.partial)]  # no task sent


# --- market data --------------------------------------------------------------------------
def test_spot_bars_carry_the_perpetuals_funding_settled_by_their_close(markets):
    # when
    btc = markets[0]
    bars = instrument_bars(btc, "1h", start_ms=1_643_673_600_000, end_ms=1_646_092_800_000)
    # then it is the engine's close-aligned funding of the perpetual's real rates
    expected = with_funding(load_bars("BTCUSDT", "1h", start="2022-02-01", end="2022-03-01"),
                            *load_funding("BTCUSDT"))
    assert np.array_equal(bars.timestamps, expected.timestamps)
    assert np.allclose(bars.funding_rate, expected.funding_rate, equal_nan=True)
    assert not np.isnan(bars.funding_rate).any()


# --- open as a backtest ---------------------------------------------------------------------
def test_an_evolved_strategy_opens_as_a_backtest_of_exactly_its_genome(run_kwargs, user):
    # given a stored strategy
    _serial_run(run_kwargs, population=8, generations=2, validate_top=0)
    strategy = Strategy.objects.order_by("-combined").first()
    genome = Genome.from_dict(strategy.genome)
    # when
    session = strategy_open_as_backtest(strategy=strategy, user=user)
    # then the session backtests the genome's structure with the genome's own parameters
    assert isinstance(session, BacktestSession) and session.status == "pending"
    assert session.strategy == f"genome:{genome.seed_or_combo}"
    assert session.start == START and session.end == END and session.created_by == user
    registered = get_strategy(session.strategy)
    bars = load_bars("ETHUSDT", "1h", start="2022-01-01", end="2022-03-01")
    ours, theirs = decode(genome).signals(bars, {}), registered.signals(bars, session.params)
    for name in ("entries", "exits", "short_entries", "short_exits", "size", "sl_stop"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a is None and b is None) or np.array_equal(a, b, equal_nan=True), name


# --- schedule -------------------------------------------------------------------------------
def test_migrate_created_the_scheduled_evolution_and_the_stuck_run_check(db):
    from django_celery_beat.models import PeriodicTask

    # given the test database was migrated
    scheduled = PeriodicTask.objects.get(name="Scheduled evolution")
    check = PeriodicTask.objects.get(name="Resume stuck evolution runs")
    # then both run on the evolution queue, the scheduled run weekly with its configuration
    assert scheduled.task == "evolution.scheduled_run" and scheduled.queue == "evolution"
    assert scheduled.enabled and scheduled.interval.every == 7 * 86_400
    kwargs = json.loads(scheduled.kwargs)
    assert kwargs["population"] == 50 and kwargs["generations"] == 20
    assert kwargs["symbols"] is None  # the stored instruments, resolved when it runs
    assert check.task == "evolution.stale_runs_check" and check.queue == "evolution"


def test_the_scheduled_run_covers_the_stored_data(markets, django_capture_on_commit_callbacks):
    # when the beat entry's kwargs arrive
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = evolution_scheduled_run(exchange="binance", symbols=["BTC/USDT", "ETH/USDT"],
                                      lookback_days=365, population=8, generations=2)
    # then a run over the stored range is created and its first generation is queued
    assert run.start == datetime(2021, 12, 1, tzinfo=UTC) and run.end == END
    assert run.random_seed == int(END.timestamp()) // 86_400
    assert [c.args for c in callbacks if isinstance(c, functools.partial)] == [(run.pk, 0)]
    # without symbols it takes the stored instruments, BTC first
    default = evolution_scheduled_run(population=8, generations=2)
    assert list(default.instruments.order_by("base").values_list("symbol", flat=True)) == \
        ["BTC/USDT", "ETH/USDT"]
    with pytest.raises(ValidationError) as caught:
        evolution_scheduled_run(symbols=["DOGE/USDT"])
    assert "DOGE/USDT" in caught.value.message_dict["symbols"][0]
