"""Evolved strategies: open one as a backtest session, move it through its lifecycle.

Guarantees: `strategy_open_as_backtest` creates (through `backtest_create`, so with
its validation and its after-commit task) a backtest session of the registered
genome structure with the strategy's own parameters, on the instruments, range,
timeframe and costs of the run that found it (or of `run`), shorting as the GA
scored it; the GA's own split validation stands in for the session's grid-search
splits and walk-forward, which are turned off. `strategy_status_set` changes the
lifecycle status and records it in the audit log.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from backtests.models import BacktestSession
from backtests.services import backtest_create
from evolution.backtest_strategies import genome_backtest_params, genome_strategy_name
from evolution.engine.evaluation import EvaluationConfig
from evolution.engine.genome import Genome
from evolution.models import EvolutionRun, Strategy
from organism.services import audit_record


def _source_run(strategy: Strategy, run: EvolutionRun | None) -> EvolutionRun:
    if run is not None:
        return run
    if strategy.run is not None:
        return strategy.run
    found = EvolutionRun.objects.filter(trials__strategy=strategy).order_by("-pk").first()
    if found is None:
        raise ValidationError({"run": "no evolution run of this strategy is stored any more"})
    return found


def strategy_open_as_backtest(*, strategy: Strategy, user: Any,
                              run: EvolutionRun | None = None) -> BacktestSession:
    """A backtest session of `strategy` (see the module docstring); ValidationError if the
    data it needs is gone."""
    source = _source_run(strategy, run)
    genome = Genome.from_dict(strategy.genome)
    evaluation = EvaluationConfig.from_dict(source.evaluation_config)
    return backtest_create(
        user=user, name=f"{strategy.identity}"[:200],
        description=(f"Evolved strategy {strategy.identity} from evolution run #{source.pk}: "
                     f"{strategy.description} The run's own in-sample / out-of-sample / "
                     "walk-forward validation is on the strategy page."),
        strategy=genome_strategy_name(genome), params=genome_backtest_params(genome),
        instrument_ids=sorted(source.instruments.values_list("pk", flat=True)),
        timeframe=source.timeframe, start=source.start, end=source.end,
        costs=dict(source.costs),
        options={"allow_short": evaluation.backtest.allow_short, "splits": False,
                 "walk_forward_windows": 0},
    )


def strategy_status_set(*, strategy: Strategy, status: str, user: Any = None) -> Strategy:
    if status not in Strategy.Lifecycle.values:
        raise ValidationError({"status": f"must be one of {', '.join(Strategy.Lifecycle.values)}"})
    with transaction.atomic():
        previous = strategy.status
        Strategy.objects.filter(pk=strategy.pk).update(status=status)
        audit_record(user=user if getattr(user, "is_authenticated", False) else None,
                     action="evolution.strategy.status", target=strategy.identity,
                     details={"from": previous, "to": status})
    strategy.refresh_from_db()
    return strategy
