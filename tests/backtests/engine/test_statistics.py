"""Statistics: hand-computed answers, invariants, and quantstats / empyrical on real data."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backtests.engine import statistics as S
from backtests.engine.backtest import run_backtest
from backtests.engine.strategies import SMACrossover
from backtests.engine.time_analysis import time_analysis
from tests.backtests.engine.scripted import HOUR_MS, START_MS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import empyrical
    import quantstats as qs

HOURLY = 8760.0
DAILY = 365.0


def test_drawdown_counts_the_initial_cash_as_a_peak():
    # given an account that loses from the very first bar, then recovers
    equity = np.array([90.0, 80.0, 95.0, 100.0, 110.0, 99.0])
    # when measured against an initial 100
    # then the worst drawdown is -20% (from the initial 100), lasting 3 bars below that peak
    assert S.max_drawdown(equity, 100.0) == pytest.approx(-0.2)
    assert S.max_drawdown_duration(equity, 100.0) == 3
    np.testing.assert_allclose(S.drawdown_curve(equity, 100.0),
                               [-0.1, -0.2, -0.05, 0.0, 0.0, -0.1])


def test_ratios_follow_their_textbook_definitions():
    # given four bar returns
    returns = np.array([0.01, -0.02, 0.03, 0.0])
    equity = 100 * np.cumprod(1 + returns)
    mean, std = returns.mean(), returns.std(ddof=1)
    downside = math.sqrt((0.02**2) / 4)
    # then Sharpe, Sortino (downside over all 4 periods), CAGR and volatility are exact
    assert S.sharpe_ratio(returns, HOURLY) == pytest.approx(mean / std * math.sqrt(HOURLY))
    assert S.sortino_ratio(returns, HOURLY) == pytest.approx(mean / downside * math.sqrt(HOURLY))
    assert S.downside_deviation(returns, 1.0) == pytest.approx(downside)
    assert S.volatility(returns, 365) == pytest.approx(std * math.sqrt(365))
    growth = equity[-1] / 100
    assert S.annualized_return(equity, 100.0, 365) == pytest.approx(growth ** (365 / 4) - 1)
    np.testing.assert_allclose(S.returns_from_equity(equity, 100.0), returns, atol=1e-15)


def test_degenerate_inputs_give_nan_not_errors():
    flat = np.zeros(10)
    assert math.isnan(S.sharpe_ratio(flat, HOURLY))
    assert math.isnan(S.sortino_ratio(flat, HOURLY))
    assert math.isnan(S.calmar_ratio(0.1, 0.0))
    assert S.annualized_return(np.array([0.0]), 100.0, 365) == -1.0


def test_var_and_cvar_use_the_historical_lower_tail():
    returns = np.linspace(-0.10, 0.09, 20)  # -0.10, -0.09, ..., 0.09
    assert S.value_at_risk(returns) == pytest.approx(np.percentile(returns, 5))
    # (20 - 1) * 0.05 = 0.95 -> the single worst return
    assert S.conditional_value_at_risk(returns) == pytest.approx(-0.10)


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.integers(3, 200), elements=st.floats(-0.5, 0.5)))
def test_invariants_of_any_equity_curve(returns):
    # given any sequence of bar returns above -50%
    equity = 1_000 * np.cumprod(1 + returns)
    figures = S.equity_statistics(equity, 1_000.0, HOURLY)
    # then the total return compounds the bar returns, the drawdown lies in [-1, 0] and its
    # duration fits in the series, and VaR is not above the median return
    assert figures["total_return"] == pytest.approx(np.prod(1 + returns) - 1, rel=1e-9, abs=1e-12)
    assert -1 <= figures["max_drawdown"] <= 0
    assert 0 <= figures["max_drawdown_bars"] <= len(returns)
    assert figures["var_95"] <= np.median(returns) + 1e-12
    assert figures["cvar_95"] <= figures["var_95"] + 1e-12


def test_time_analysis_buckets_months_hours_and_windows():
    # given 40 days of hourly equity growing 0.01% per bar from Jan 1st
    n = 40 * 24
    timestamps = START_MS + HOUR_MS * np.arange(n)
    equity = 100 * 1.0001 ** np.arange(1, n + 1)
    analysis = time_analysis(timestamps, equity, 100.0)
    # then January and February compound to the total, every hour has the same mean return,
    # Monday (2024-01-01) is a weekday bucket, and the 30-day return appears on day 30
    monthly = analysis["monthly"]["rows"]
    assert [(r["year"], r["month"]) for r in monthly] == [(2024, 1), (2024, 2)]
    compounded = (1 + monthly[0]["return"]) * (1 + monthly[1]["return"]) - 1
    assert compounded == pytest.approx(equity[-1] / 100 - 1, rel=1e-12)
    assert monthly[0]["return"] == pytest.approx(1.0001 ** (31 * 24) - 1, rel=1e-12)
    assert analysis["monthly"]["table"]["2024"][1] == monthly[1]["return"]
    hours = analysis["by_hour"]
    assert hours["bars"] == [40] * 24
    np.testing.assert_allclose(hours["mean_return"], 0.0001, rtol=1e-9)
    assert analysis["by_weekday"]["names"][0] == "Monday"
    rolling = analysis["rolling"]
    assert rolling["30d"][29] is None
    assert rolling["30d"][30] == pytest.approx(1.0001 ** (30 * 24) - 1, rel=1e-12)
    assert all(v is None for v in rolling["90d"])


@pytest.fixture(scope="module")
def strategy_run(btc_2022):
    return run_backtest(btc_2022, SMACrossover(), {"fast": 10, "slow": 30})


def test_hourly_figures_match_empyrical_and_quantstats(strategy_run):
    # given an hourly strategy's returns on BTC 2022 and its buy-and-hold benchmark
    r = strategy_run.returns
    equity, initial = strategy_run.equity, strategy_run.initial_cash
    bench = S.returns_from_equity(strategy_run.benchmark_equity, initial)
    series = pd.Series(r, index=pd.to_datetime(strategy_run.timestamps, unit="ms"))
    annual = S.annualized_return(equity, initial, HOURLY)
    drawdown = S.max_drawdown(equity, initial)
    beta, correlation = S.beta_and_correlation(r, bench)
    pairs = [
        (S.sharpe_ratio(r, HOURLY), empyrical.sharpe_ratio(r, annualization=HOURLY)),
        (S.sharpe_ratio(r, HOURLY), qs.stats.sharpe(series, periods=HOURLY)),
        (S.sortino_ratio(r, HOURLY), empyrical.sortino_ratio(r, annualization=HOURLY)),
        (S.sortino_ratio(r, HOURLY), qs.stats.sortino(series, periods=HOURLY)),
        (S.volatility(r, HOURLY), empyrical.annual_volatility(r, annualization=HOURLY)),
        (S.volatility(r, HOURLY), qs.stats.volatility(series, periods=HOURLY)),
        (drawdown, empyrical.max_drawdown(r)),
        (drawdown, qs.stats.max_drawdown(series)),
        (annual, empyrical.annual_return(r, annualization=HOURLY)),
        (S.calmar_ratio(annual, drawdown), empyrical.calmar_ratio(r, annualization=HOURLY)),
        (S.value_at_risk(r), empyrical.value_at_risk(r)),
        (S.conditional_value_at_risk(r), empyrical.conditional_value_at_risk(r)),
        (S.downside_deviation(r, HOURLY), empyrical.downside_risk(r, annualization=HOURLY)),
        (beta, empyrical.beta(r, bench)),
        (correlation, np.corrcoef(r, bench)[0, 1]),
        (S.total_return(equity, initial), empyrical.cum_returns_final(r)),
        (S.total_return(equity, initial), qs.stats.comp(series)),
    ]
    # then every figure agrees to 1e-9
    for ours, theirs in pairs:
        assert ours == pytest.approx(theirs, rel=1e-9)


def test_daily_figures_match_empyrical_and_quantstats():
    # given BTC buy-and-hold daily closing equity 2018-2023 (365 periods a year)
    from tests.market_data import load_bars

    hourly = load_bars("BTCUSDT", "1h", start="2018-01-01", end="2023-01-01")
    day = hourly.timestamps // 86_400_000
    last = np.flatnonzero(np.append(np.diff(day) != 0, True))
    equity = 10_000 * hourly.close[last] / hourly.open[0]
    r = S.returns_from_equity(equity, 10_000.0)
    series = pd.Series(r, index=pd.to_datetime(day[last], unit="D"))
    figures = S.equity_statistics(equity, 10_000.0, DAILY)
    # then the report's figures are the libraries' figures
    assert figures["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r, annualization=DAILY),
                                              rel=1e-9)
    assert figures["sharpe"] == pytest.approx(qs.stats.sharpe(series, periods=DAILY), rel=1e-9)
    assert figures["sortino"] == pytest.approx(qs.stats.sortino(series, periods=DAILY), rel=1e-9)
    assert figures["max_drawdown"] == pytest.approx(qs.stats.max_drawdown(series), rel=1e-9)
    assert figures["annualized_return"] == pytest.approx(
        empyrical.annual_return(r, annualization=DAILY), rel=1e-9)
    assert figures["calmar"] == pytest.approx(empyrical.calmar_ratio(r, annualization=DAILY),
                                              rel=1e-9)


def test_the_report_is_json_and_consistent_with_the_trades(strategy_run):
    report = strategy_run.stats
    text = json.dumps(report, allow_nan=False)
    assert '"monthly"' in text
    trades = strategy_run.trades
    assert report["trades"]["trades"] == len(trades)
    assert report["performance"]["win_rate"] == pytest.approx(np.mean(trades.pnl > 0))
    wins, losses = trades.pnl[trades.pnl > 0].sum(), trades.pnl[trades.pnl < 0].sum()
    assert report["performance"]["profit_factor"] == pytest.approx(wins / -losses)
    assert report["costs"]["total_fees"] == pytest.approx(trades.fees.sum())
    assert report["trades"]["longest_hold_bars"] == trades.bars_held.max()
    assert report["trades"]["avg_hold_hours"] == pytest.approx(trades.bars_held.mean())
    gross = trades.pnl.sum() + trades.fees.sum()
    if gross > 0:
        assert report["costs"]["fees_pct_of_gross_profit"] == pytest.approx(
            100 * trades.fees.sum() / gross)
    assert 0 < report["performance"]["exposure"] < 1
    assert len(report["time_analysis"]["monthly"]["rows"]) == 12
