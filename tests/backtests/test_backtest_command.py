"""python manage.py backtest_run: runs synchronously with a progress bar and prints a summary."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backtests.management.commands.backtest_run import parse_param
from backtests.models import BacktestSession

pytestmark = pytest.mark.django_db

ARGS = ["--strategy", "sma_crossover", "--symbol", "BTC/USDT", "--timeframe", "1h",
        "--start", "2022-01-01", "--end", "2023-01-01", "--monte-carlo-paths", "1000",
        "--walk-forward-windows", "3"]


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("backtest_run", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_runs_a_backtest_and_prints_a_summary(btc_hourly):
    # when
    out, err = _run(*ARGS, "--param", "fast=10", "--param", "slow=50", "--cash", "5000")
    # then the session is stored like any other
    session = BacktestSession.objects.get()
    assert session.status == "completed" and session.initial_cash == 5000
    assert session.params == {"fast": 10, "slow": 50} and session.created_by is None
    # and the summary shows the stored figures
    assert f"Backtest #{session.pk}" in out
    total = session.result.statistics["performance"]["total_return"]
    assert f"{100 * total:,.2f}%" in out
    for label in ("Sharpe", "Max drawdown", "Trades", "Monte Carlo median return",
                  "Walk-forward efficiency", "Sharpe IS / OOS / WF", "Lookahead check"):
        assert label in out
    assert "passed" in out
    # and the progress bar reached 100%
    assert "100%" in err


def test_an_unknown_instrument_is_a_clear_error(btc_hourly):
    with pytest.raises(CommandError, match="no spot instrument DOGE/USDT on binance"):
        _run(*[a if a != "BTC/USDT" else "DOGE/USDT" for a in ARGS])


def test_bad_parameters_list_every_field(btc_hourly):
    with pytest.raises(CommandError) as caught:
        _run(*ARGS, "--param", "fast=1", "--param", "speed=3")
    message = str(caught.value)
    assert "params.fast: must be between 2 and 200" in message
    assert "params.speed: unknown parameter" in message
    assert not BacktestSession.objects.exists()


def test_a_range_without_data_is_refused(btc_hourly):
    args = [a.replace("2022", "2030").replace("2023", "2031") for a in ARGS]
    with pytest.raises(CommandError, match="has 0 1h bars"):
        _run(*args)


def test_an_unreadable_date_is_refused(btc_hourly):
    with pytest.raises(CommandError, match="is not a date"):
        _run(*[a if a != "2022-01-01" else "yesterday" for a in ARGS])


def test_a_malformed_param_is_refused():
    with pytest.raises(CommandError, match="expected NAME=VALUE"):
        parse_param("fast")
    assert parse_param("fast=10") == ("fast", 10)
    assert parse_param("oversold=27.5") == ("oversold", 27.5)
    assert parse_param("mode=ema") == ("mode", "ema")


def test_it_runs_an_event_driven_backtest_with_the_agents_engine(btc_hourly):
    # when
    out, _ = _run("--strategy", "sma_crossover", "--symbol", "BTC/USDT", "--timeframe", "1h",
                  "--start", "2022-01-01", "--end", "2022-04-01", "--monte-carlo-paths", "0",
                  "--walk-forward-windows", "0", "--no-splits", "--kind", "event_driven",
                  "--engine", "agents", "--risk-profile", "aggressive")
    # then the session ran through the kernel and the summary says what it decided
    session = BacktestSession.objects.get()
    assert session.kind == "event_driven" and session.status == "completed"
    assert session.options["engine"] == "agents" and session.options["risk_profile"] == "aggressive"
    assert "Kernel engine" in out and "agents" in out and "Circuit-breaker trips" in out
