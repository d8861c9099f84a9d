"""`manage.py evolve`: the same services from the command line, with a progress bar."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from evolution.models import EvolutionRun, GenerationStat
from tests.evolution.conftest import FAST_SEEDS

ARGS = ["--symbols", "BTC/USDT,ETH/USDT", "--timeframe", "1h", "--population", "8",
        "--generations", "3", "--seed", "42", "--start", "2022-01-01", "--end", "2022-05-01",
        "--exchange", "binance", "--seeds", ",".join(FAST_SEEDS), "--validate-top", "2",
        "--batch-size", "4"]


def test_it_evolves_in_process_with_a_progress_bar(markets, capsys):
    # when
    out = StringIO()
    call_command("evolve", *ARGS, "--serial", stdout=out)
    # then the run completed through the services and the summary lists its best strategies
    run = EvolutionRun.objects.get()
    assert run.status == "completed" and run.executor == "serial"
    assert run.population == 8 and run.random_seed == 42
    assert GenerationStat.objects.filter(run=run).count() == 3
    text = out.getvalue()
    assert f"Evolution run #{run.pk}" in text and f"Run #{run.pk} completed" in text
    best = run.hall_of_fame["best"][0]["identity"]
    assert best in text and "OOS" in text
    assert "3/3" in capsys.readouterr().err  # tqdm's bar, one step per generation


@pytest.mark.django_db(transaction=True)
def test_it_follows_a_run_evaluated_by_celery(markets, eager, capsys, unique_run_ids):
    # when (Celery eager: the workers' tasks run in-process as soon as the run is committed)
    out = StringIO()
    call_command("evolve", *ARGS, stdout=out)
    # then
    run = EvolutionRun.objects.get()
    assert run.executor == "celery" and run.status == "completed"
    assert f"Run #{run.pk} completed" in out.getvalue()
    assert "3/3" in capsys.readouterr().err


def test_unknown_symbols_are_refused(markets):
    with pytest.raises(CommandError, match="DOGE/USDT"):
        call_command("evolve", "--symbols", "DOGE/USDT", "--serial", stdout=StringIO())
    with pytest.raises(CommandError, match="population"):
        call_command("evolve", *ARGS, "--population", "1", "--serial", stdout=StringIO())
    assert not EvolutionRun.objects.exists()


def test_it_takes_the_objectives_to_rank_on(markets):
    # when
    call_command("evolve", *ARGS, "--generations", "1", "--objectives", "sharpe,turnover",
                 "--serial", stdout=StringIO())
    # then
    run = EvolutionRun.objects.get()
    assert run.objectives == ["sharpe", "turnover"] and run.status == "completed"
    with pytest.raises(CommandError, match="objectives: objectives must be distinct"):
        call_command("evolve", *ARGS, "--objectives", "profit", "--serial", stdout=StringIO())
