"""The backtests REST API: create (422 with field details), follow, results, trades, cancel,
compare, strategies. Never a 500 on bad input."""

from __future__ import annotations

import pytest

from backtests.models import BacktestSession
from backtests.services import backtest_create, backtest_execute
from tests.backtests.conftest import FAST_OPTIONS
from tests.factories import BacktestResultFactory, BacktestSessionFactory, InstrumentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/backtests"


def _body(instrument_id: int, **overrides) -> dict:
    body = {
        "name": "api sma", "strategy": "sma_crossover", "params": {"fast": 10, "slow": 50},
        "instrument_ids": [instrument_id], "timeframe": "1h", "start": "2022-01-01",
        "end": "2023-01-01", "options": dict(FAST_OPTIONS),
    }
    body.update(overrides)
    return body


def _post(api_client, body: dict):
    return api_client.post(URL, body, content_type="application/json")


def _detail(response) -> dict[str, str]:
    """loc (joined with '.') -> message of a 422 answer."""
    return {".".join(str(p) for p in d["loc"]): d["msg"] for d in response.json()["detail"]}


@pytest.fixture
def completed(create_kwargs, user):
    session = backtest_create(**create_kwargs(user=user), enqueue=False)
    return backtest_execute(session_id=session.pk)


def test_it_creates_a_backtest_that_runs_after_commit(
    api_client, btc_hourly, settings, django_capture_on_commit_callbacks
):
    # given Celery running tasks in-process
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api_client, _body(btc_hourly.pk))
    # then
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "pending"
    status = api_client.get(f"{URL}/{created['id']}").json()
    assert status["status"] == "completed" and status["progress"] == 1.0
    assert status["instruments"][0]["symbol"] == "BTC/USDT"
    assert status["metrics"]["trade_count"] > 0 and status["metrics"]["lookahead_passed"]


@pytest.mark.parametrize(
    ("overrides", "loc", "fragment"),
    [
        ({"strategy": "martingale"}, "body.payload.strategy", "unknown strategy"),
        ({"params": {"fast": 500}}, "body.payload.params.fast", "between 2 and 200"),
        ({"params": {"fast": 50, "slow": 20}}, "body.payload.params.slow", "greater than fast"),
        ({"start": "2030-01-01", "end": "2031-01-01"}, "body.payload.instrument_ids", "has 0 1h bars"),
        ({"instrument_ids": [424_242]}, "body.payload.instrument_ids", "unknown instrument"),
        ({"end": "2021-06-01"}, "body.payload.end", "after start"),
        ({"start": "last tuesday"}, "body.payload.start", "ISO 8601"),
        ({"costs": {"taker_fee": -0.1}}, "body.payload.costs.taker_fee", "taker_fee"),
        ({"sizing": {"mode": "kelly"}}, "body.payload.sizing.mode", "fraction"),
        ({"options": {"walk_forward_windows": 500}}, "body.payload.options.walk_forward_windows", "50"),
        ({"kind": "tick_replay"}, "body.payload.kind", "event_driven"),
        ({"instrument_ids": []}, "body.payload.instrument_ids", "at least 1"),
    ],
)
def test_bad_input_is_a_422_with_field_details(api_client, btc_hourly, overrides, loc, fragment):
    # when
    response = _post(api_client, _body(btc_hourly.pk, **overrides))
    # then
    assert response.status_code == 422, response.content
    details = _detail(response)
    assert loc in details, details
    assert fragment in details[loc]
    assert not BacktestSession.objects.exists()


def test_a_range_without_data_names_the_instrument(api_client, btc_hourly):
    # given
    sol = InstrumentFactory(base="SOL", symbol="SOL/USDT")
    # when
    response = _post(api_client, _body(btc_hourly.pk, instrument_ids=[btc_hourly.pk, sol.pk]))
    # then
    assert response.status_code == 422
    assert "binance:SOL/USDT has 0 1h bars" in _detail(response)["body.payload.instrument_ids"]


def test_malformed_json_is_not_a_500(api_client):
    response = api_client.post(URL, "{not json", content_type="application/json")
    assert response.status_code in (400, 422)


def test_it_requires_authentication(client, btc_hourly):
    assert client.get(URL).status_code == 401
    assert client.post(URL, _body(btc_hourly.pk), content_type="application/json"
                       ).status_code == 401


def test_results_are_served_from_storage(api_client, completed):
    # when
    response = api_client.get(f"{URL}/{completed.pk}/results")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["statistics"] == completed.result.statistics
    assert body["equity"]["benchmark"] and body["equity"]["drawdown"]
    assert body["monte_carlo"]["n_paths"] == 1_000 and body["lookahead"]["passed"]
    assert body["splits"]["side_by_side"]["total_return"]["out_of_sample"] is not None
    assert body["trade_count"] == len(completed.result.trades)


def test_results_of_an_unfinished_backtest_are_a_409(api_client, create_kwargs):
    session = backtest_create(**create_kwargs(), enqueue=False)
    assert api_client.get(f"{URL}/{session.pk}/results").status_code == 409
    assert api_client.get(f"{URL}/{session.pk}/trades").status_code == 409


def test_an_unknown_backtest_is_a_404(api_client):
    assert api_client.get(f"{URL}/999999").status_code == 404
    assert api_client.get(f"{URL}/99999999999999999999").status_code == 404
    assert api_client.post(f"{URL}/999999/cancel").status_code == 404


def test_trades_are_paginated(api_client, completed):
    # when
    first = api_client.get(f"{URL}/{completed.pk}/trades?limit=5").json()
    second = api_client.get(f"{URL}/{completed.pk}/trades?limit=5&offset=5").json()
    # then
    stored = completed.result.trades
    assert first["count"] == second["count"] == len(stored) > 10
    assert [t["entry_time"] for t in first["trades"] + second["trades"]] == [
        t["entry_time"] for t in stored[:10]]
    assert first["trades"][0]["return"] == stored[0]["return"]
    assert api_client.get(f"{URL}/{completed.pk}/trades?limit=0").status_code == 422


def test_it_cancels_a_pending_backtest_and_refuses_a_finished_one(api_client, create_kwargs,
                                                                  user, completed):
    # given
    pending = backtest_create(**create_kwargs(user=user), enqueue=False)
    # when
    response = api_client.post(f"{URL}/{pending.pk}/cancel")
    # then
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert api_client.post(f"{URL}/{completed.pk}/cancel").status_code == 409


def test_it_reruns_a_backtest(api_client, completed):
    response = api_client.post(f"{URL}/{completed.pk}/rerun")
    assert response.status_code == 201
    assert BacktestSession.objects.get(pk=response.json()["id"]).rerun_of_id == completed.pk


def test_the_list_sorts_by_a_metric(api_client):
    # given
    for sharpe in (0.5, 2.0, -1.0, None):
        BacktestSessionFactory(sharpe=sharpe, status="completed" if sharpe else "failed")
    # when
    body = api_client.get(f"{URL}?sort=-sharpe").json()
    # then
    assert [s["metrics"]["sharpe"] for s in body["items"]] == [2.0, 0.5, -1.0, None]
    assert body["count"] == 4
    assert api_client.get(f"{URL}?sort=password").status_code == 422
    failed = api_client.get(f"{URL}?status=failed").json()
    assert [s["status"] for s in failed["items"]] == ["failed"]


def test_compare_names_the_best_session_per_metric(api_client):
    # given
    steady = BacktestResultFactory(statistics={
        "performance": {"total_return": 0.10, "sharpe": 1.8, "max_drawdown": -0.05}}).session
    wild = BacktestResultFactory(statistics={
        "performance": {"total_return": 0.40, "sharpe": 0.9, "max_drawdown": -0.30}}).session
    # when
    body = api_client.get(f"{URL}/compare?ids={steady.pk},{wild.pk}").json()
    # then
    assert body["ids"] == [steady.pk, wild.pk]
    assert body["best"]["total_return"] == wild.pk
    assert body["best"]["sharpe"] == steady.pk and body["best"]["max_drawdown"] == steady.pk
    assert body["best"]["trades"] is None


def test_compare_needs_two_known_sessions(api_client):
    session = BacktestSessionFactory()
    assert api_client.get(f"{URL}/compare?ids={session.pk}").status_code == 422
    assert api_client.get(f"{URL}/compare?ids={session.pk},123456").status_code == 404
    assert api_client.get(f"{URL}/compare?ids=1;drop").status_code == 422


def test_it_lists_the_strategies_with_their_parameter_spaces(api_client):
    body = api_client.get(f"{URL}/strategies").json()
    strategies = {s["name"]: s for s in body}
    assert {"sma_crossover", "rsi_mean_reversion"} <= set(strategies)
    fast = {p["name"]: p for p in strategies["sma_crossover"]["params"]}["fast"]
    assert fast["kind"] == "int" and fast["low"] == 2 and fast["high"] == 200


def test_the_openapi_schema_documents_the_endpoints(api_client):
    schema = api_client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/v1/backtests", "/api/v1/backtests/{session_id}",
                 "/api/v1/backtests/{session_id}/results", "/api/v1/backtests/{session_id}/trades",
                 "/api/v1/backtests/{session_id}/cancel", "/api/v1/backtests/compare",
                 "/api/v1/backtests/strategies"):
        assert path in paths, sorted(paths)
    assert {"BacktestIn", "BacktestOut", "ResultsOut", "TradesOut"} <= set(
        schema["components"]["schemas"])
