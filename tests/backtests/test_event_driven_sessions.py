"""Event-driven backtest sessions: vectorised parity, the agents engine, pages, API and form.

The parity test is the guard the architecture asks for: the same SMA crossover
session, run as a vectorised backtest and as an event-driven one through the
trading kernel (engine "strategy"), makes the same trades on a year of real
BTC/USDT 1h candles.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.utils.html import escape

from backtests.models import BacktestResult, BacktestSession
from backtests.services import backtest_create, backtest_execute
from tests.backtests.conftest import FAST_OPTIONS
from tests.factories import InstrumentFactory, candles_create, synthetic_bars

pytestmark = pytest.mark.django_db

# The simulation and Monte Carlo are compared; the optimisers are vectorised for both kinds.
PARITY_OPTIONS = {"monte_carlo_paths": 1_000, "walk_forward_windows": 0, "splits": False,
                  "lookahead_points": 0}
QUARTER_END = datetime(2022, 4, 1, tzinfo=UTC)
URL = "/api/v1/backtests"


def _run(create_kwargs, **overrides) -> tuple[BacktestSession, BacktestResult]:
    session = backtest_create(**create_kwargs(**overrides), enqueue=False)
    session = backtest_execute(session_id=session.pk)
    assert session.status == "completed", session.error_message
    return session, BacktestResult.objects.get(session=session)


@pytest.fixture
def parity_runs(create_kwargs):
    vectorised = _run(create_kwargs, kind="vectorized", options=dict(PARITY_OPTIONS))
    event = _run(create_kwargs, kind="event_driven",
                 options={**PARITY_OPTIONS, "engine": "strategy"})
    return vectorised, event


def _column(trades: list[dict], name: str) -> list:
    return [t[name] for t in trades]


def test_the_event_driven_session_makes_the_vectorised_trades(parity_runs):
    # given the SMA crossover over 2022 run both ways
    (_, vectorised), (session, event) = parity_runs
    expected, actual = vectorised.trades, event.trades
    # then every trade is the same: bars, times, side, prices, size and fees
    assert session.kind == "event_driven" and len(expected) > 50
    assert len(actual) == len(expected)
    for name in ("entry_index", "exit_index", "entry_time", "exit_time", "side", "status",
                 "exit_reason", "bars_held"):
        assert _column(actual, name) == _column(expected, name), name
    for name in ("entry_price", "exit_price"):
        np.testing.assert_allclose(_column(actual, name), _column(expected, name), rtol=1e-9,
                                   err_msg=name)
    for name in ("size", "entry_fees", "exit_fees", "pnl"):
        np.testing.assert_allclose(_column(actual, name), _column(expected, name), rtol=1e-8,
                                   atol=1e-9, err_msg=name)


def test_the_final_equity_statistics_and_monte_carlo_agree(parity_runs):
    # given both sessions' stored results
    (vector_session, vectorised), (event_session, event) = parity_runs
    final = vectorised.statistics["performance"]["final_equity"]
    # then the final equity agrees to 1e-8 and the statistics with it
    assert event.statistics["performance"]["final_equity"] == pytest.approx(final, rel=1e-8)
    assert event.statistics["performance"]["bars"] == 8760
    for name in ("total_return", "sharpe", "max_drawdown", "win_rate", "profit_factor"):
        assert getattr(event_session, name) == pytest.approx(getattr(vector_session, name),
                                                             rel=1e-6), name
    assert event.statistics["performance"]["exposure"] == vectorised.statistics[
        "performance"]["exposure"]
    assert event.statistics["costs"]["total_fees"] == pytest.approx(
        vectorised.statistics["costs"]["total_fees"], rel=1e-8)
    # and Monte Carlo, resampling the same trade returns with the same seed, agrees too
    assert event.monte_carlo["n_paths"] == 1_000
    assert event.monte_carlo["n_trades"] == vectorised.monte_carlo["n_trades"]
    assert event.monte_carlo["median_return"] == pytest.approx(
        vectorised.monte_carlo["median_return"], rel=1e-6)


def test_the_strategy_engine_summarises_the_kernel_decisions(parity_runs):
    # given the event-driven session
    (_, vectorised), (_, event) = parity_runs
    summary = event.kernel_summary
    # then one decision per replayed candle, an entry decided per trade, an exit per signal exit
    assert summary["engine"] == "strategy" and summary["agents"] == ["strategy:sma_crossover"]
    assert summary["decisions"]["total"] == summary["candles"] >= 8760
    actions = summary["decisions"]["by_action"]
    assert summary["exit_reasons"] == dict(Counter(t["exit_reason"] for t in event.trades))
    assert actions["TRAIL_SELL"] == summary["exit_reasons"]["signal"]
    assert actions["TRAIL_BUY"] >= len(event.trades) == len(vectorised.trades)
    assert summary["breakers"]["trips"] == 0 and summary["fills"] == {
        "taker": 2 * len(vectorised.trades)}
    assert sum(row["count"] for row in summary["skips"]) == actions["SKIP"]
    assert vectorised.kernel_summary == {}


@pytest.fixture
def agents_session(create_kwargs):
    return _run(create_kwargs, kind="event_driven", end=QUARTER_END,
                options={**FAST_OPTIONS, "engine": "agents", "risk_profile": "conservative",
                         "strategy_weight": 2.0})


def test_an_agents_session_trades_and_is_analysed_like_any_other(agents_session):
    # given the full multi-agent engine over the first quarter of 2022
    session, result = agents_session
    trades = result.trades
    # then it traded, and every analysis ran on its result
    assert session.trade_count == len(trades) > 0
    assert result.statistics["performance"]["bars"] == 90 * 24
    assert result.monte_carlo["n_paths"] == 1_000
    assert len(result.walk_forward["windows"]) == 3 and result.lookahead["passed"] is True
    # and each trade's books balance: P&L = size x price move - fees, fees split in two
    for t in trades:
        assert t["fees"] == pytest.approx(t["entry_fees"] + t["exit_fees"])
        gross = t["size"] * (t["exit_price"] - t["entry_price"])
        assert t["pnl"] == pytest.approx(gross - t["fees"], rel=1e-9, abs=1e-6)
        assert t["exit_time"] >= t["entry_time"] and t["status"] == "closed"
    assert {t["exit_reason"] for t in trades} <= {
        "signal", "end", "stop_loss", "take_profit", "trailing_stop", "time_stop"}


def test_an_agents_session_stores_what_the_kernel_decided(agents_session):
    # given the agents session
    _, result = agents_session
    summary = result.kernel_summary
    # then its summary names the engine, every voter, and counts decisions and skips
    assert summary["engine"] == "agents" and summary["risk_profile"] == "conservative"
    assert len(summary["agents"]) == 9 and summary["weights"]["strategy:sma_crossover"] == 2.0
    assert summary["market_stats_from"] == "500 warm-up bars"
    actions = summary["decisions"]["by_action"]
    assert summary["decisions"]["total"] == sum(actions.values()) == summary["candles"]
    assert actions["TRAIL_BUY"] >= len(result.trades)
    assert sum(row["count"] for row in summary["skips"]) == actions["SKIP"]
    assert all("#" in row["reason"] or not any(c.isdigit() for c in row["reason"])
               for row in summary["skips"])
    assert sum(summary["exit_reasons"].values()) == len(result.trades)
    assert summary["breakers"]["trips"] == len(
        [e for e in summary["breakers"]["events"] if e["action"] in ("PAUSE", "HALT")])


def test_the_detail_page_shows_the_kernel_summary(logged_in_client, agents_session):
    # given the completed agents session
    session, result = agents_session
    # when
    response = logged_in_client.get(f"/backtests/{session.pk}/")
    # then the results render with the kernel's decisions and the optimiser note
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="kernel-summary"' in html and 'id="kernel-skips"' in html
    assert "Event-driven (trading engine replay)" in html and "risk profile" in html
    assert html.count("Optimised with the vectorised engine") == 2
    assert escape(result.kernel_summary["skips"][0]["reason"]) in html


def test_the_api_returns_the_kernel_summary(api_client, agents_session):
    # when
    session, result = agents_session
    response = api_client.get(f"{URL}/{session.pk}/results")
    # then
    assert response.status_code == 200
    assert response.json()["kernel_summary"]["engine"] == "agents"
    assert api_client.get(f"{URL}/{session.pk}").json()["kind"] == "event_driven"


@pytest.mark.parametrize(
    ("options", "loc", "fragment"),
    [
        ({"engine": "turbo"}, "body.payload.options.engine", "strategy"),
        ({"risk_profile": "yolo"}, "body.payload.options.risk_profile", "moderate"),
        ({"strategy_weight": "heavy"}, "body.payload.options.strategy_weight", "number"),
        ({"allow_short": True}, "body.payload.options.allow_short", "long only"),
    ],
)
def test_a_bad_event_driven_option_is_a_422(api_client, btc_hourly, options, loc, fragment):
    # when
    body = {"name": "api event", "strategy": "sma_crossover", "params": {"fast": 10, "slow": 50},
            "instrument_ids": [btc_hourly.pk], "start": "2022-01-01", "end": "2022-04-01",
            "kind": "event_driven", "options": options}
    response = api_client.post(URL, body, content_type="application/json")
    # then
    assert response.status_code == 422, response.content
    details = {".".join(d["loc"]): d["msg"] for d in response.json()["detail"]}
    assert fragment in details[loc], details
    assert not BacktestSession.objects.exists()


def test_the_agents_engine_refuses_instruments_quoted_in_different_assets(create_kwargs,
                                                                          btc_hourly):
    # given an ETH/BTC market next to BTC/USDT
    eth_btc = InstrumentFactory(base="ETH", quote="BTC", symbol="ETH/BTC")
    start_ms = int(datetime(2021, 12, 1, tzinfo=UTC).timestamp() * 1000)
    candles_create(eth_btc, synthetic_bars(3_000, start_ms=start_ms))
    # when
    with pytest.raises(ValidationError) as caught:
        backtest_create(**create_kwargs(
            kind="event_driven", instrument_ids=[btc_hourly.pk, eth_btc.pk], end=QUARTER_END,
            options={"engine": "agents"}), enqueue=False)
    # then the strategy engine (one sub-account each) still takes them
    assert "quoted in one asset" in " ".join(caught.value.message_dict["instrument_ids"])
    assert backtest_create(**create_kwargs(
        kind="event_driven", instrument_ids=[btc_hourly.pk, eth_btc.pk], end=QUARTER_END,
        options={"engine": "strategy"}), enqueue=False).pk


def test_the_form_sends_the_engine_options_only_for_event_driven_sessions(logged_in_client,
                                                                          btc_hourly):
    # given the form filled in for both kinds
    base = {
        "strategy": "sma_crossover", "param_fast": "10", "param_slow": "50",
        "instruments": [str(btc_hourly.pk)], "timeframe": "1h", "start": "2022-01-01",
        "end": "2022-04-01", "initial_cash": "10000", "maker_fee": "0.0002",
        "taker_fee": "0.0005", "slippage": "0.0005", "sizing_mode": "fraction",
        "sizing_value": "1", "monte_carlo_paths": "1000", "walk_forward_windows": "3",
        "walk_forward_mode": "rolling", "engine": "agents", "risk_profile": "aggressive",
        "strategy_weight": "0.5",
    }
    # when
    event = logged_in_client.post("/backtests/new/", {**base, "kind": "event_driven"})
    vector = logged_in_client.post("/backtests/new/", {**base, "kind": "vectorized"})
    # then
    assert event.status_code == vector.status_code == 302
    first, second = BacktestSession.objects.order_by("pk")
    assert first.kind == "event_driven" and first.options["engine"] == "agents"
    assert first.options["risk_profile"] == "aggressive" and first.options["strategy_weight"] == 0.5
    assert second.kind == "vectorized" and "engine" not in second.options
