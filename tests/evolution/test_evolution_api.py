"""The evolution REST API: runs, generations, strategies, stop/resume, strategies, seeds."""

from __future__ import annotations

import pytest

from evolution.models import EvolutionRun, Strategy
from tests.evolution.conftest import FAST_SEEDS

RUNS = "/api/v1/evolution/runs"


def _body(ids, **overrides) -> dict:
    body = {"name": "api run", "seeds": FAST_SEEDS, "instrument_ids": ids,
            "timeframe": "1h", "start": "2022-01-01", "end": "2022-05-01", "population": 8,
            "generations": 2, "random_seed": 5, "batch_size": 4, "validate_top": 2,
            "hall_of_fame_size": 5}
    body.update(overrides)
    return body


def _post(client, body):
    return client.post(RUNS, body, content_type="application/json")


@pytest.fixture
def completed(api_client, markets, eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api_client, _body([m.pk for m in markets]))
    assert response.status_code == 201, response.content
    return response.json()


def test_it_creates_a_run_that_evolves_after_commit(api_client, completed, markets):
    # when
    run = api_client.get(f"{RUNS}/{completed['id']}").json()
    # then
    assert completed["status"] == "pending"
    assert run["status"] == "completed" and run["progress"] == 1.0
    assert run["completed_generations"] == 2 and run["population"] == 8
    assert [i["symbol"] for i in run["instruments"]] == ["BTC/USDT", "ETH/USDT"]
    assert set(run["windows"]) == {"in_sample", "out_of_sample", "walk_forward"}
    assert 0 <= run["deflated_sharpe"] <= 1 and run["overfitting"]["recorded"] == 16
    assert run["created_by"] == "alice"


def test_it_lists_generations_with_every_objective(api_client, completed):
    generations = api_client.get(f"{RUNS}/{completed['id']}/generations").json()
    assert [g["generation"] for g in generations] == [0, 1]
    assert generations[1]["best_combined"] >= generations[0]["best_combined"]
    assert set(generations[0]["objectives"]) == {"sharpe", "consistency", "max_drawdown",
                                                 "turnover", "combined"}
    assert set(generations[0]["objectives"]["sharpe"]) == {"best", "median", "worst"}


def test_it_lists_strategies_with_out_of_sample_next_to_in_sample(api_client, completed):
    # when
    best = api_client.get(f"{RUNS}/{completed['id']}/strategies").json()
    everything = api_client.get(f"{RUNS}/{completed['id']}/strategies?scope=all").json()
    pareto = api_client.get(f"{RUNS}/{completed['id']}/strategies?scope=pareto").json()
    # then
    combined = [s["objectives"]["combined"] for s in best]
    assert combined == sorted(combined, reverse=True) and all(s["in_hall_of_fame"] for s in best)
    validated = [s for s in best if s["validation"]]
    assert len(validated) == 2
    for row in validated:
        assert row["lookahead_passed"]
        assert set(row["validation"]["side_by_side"]["sharpe"]) == {
            "in_sample", "out_of_sample", "walk_forward"}
        assert "combined" in row["validation"]["out_of_sample_objectives"]
    assert len(everything) >= len(best) and all(s["strategy_id"] for s in everything)
    assert pareto and all(s["on_pareto_front"] for s in pareto)


def test_a_strategy_is_found_by_id_or_identity(api_client, completed):
    strategy = Strategy.objects.filter(run_id=completed["id"]).order_by("-combined").first()
    by_id = api_client.get(f"/api/v1/strategies/{strategy.pk}").json()
    by_identity = api_client.get(f"/api/v1/strategies/{strategy.identity}").json()
    assert by_id == by_identity
    assert by_id["identity"] == strategy.identity and by_id["status"] == "born"
    assert by_id["genome"]["entry"]["seed"] == strategy.genome["entry"]["seed"]
    assert by_id["lookahead_passed"] is True
    assert api_client.get("/api/v1/strategies/nope_0_deadbeef").status_code == 404


def test_seeds_are_described_with_their_parameter_spaces(api_client):
    seeds = api_client.get("/api/v1/seeds").json()
    assert len(seeds) == 12
    donchian = next(s for s in seeds if s["name"] == "donchian_breakout")
    assert "breakout" in donchian["description"].lower() and "entry" in donchian["roles"]
    period = next(p for p in donchian["params"] if p["name"] == "entry_period")
    assert period["kind"] == "int" and period["low"] == 10 and period["high"] == 100


@pytest.mark.parametrize(
    ("overrides", "loc", "fragment"),
    [
        ({"seeds": ["ema_crossover", "martingale"]}, ["seeds"], "unknown seeds"),
        ({"population": 5000}, ["population"], "between 4 and 1000"),
        ({"population": "many"}, ["population"], "valid integer"),
        ({"generations": 0}, ["generations"], "between 1 and 500"),
        ({"costs": {"taker_fee": 0}}, ["costs", "taker_fee"], "always scored with costs"),
        ({"start": "last tuesday"}, ["start"], "ISO 8601"),
        ({"start": "2030-01-01", "end": "2030-06-01"}, ["instrument_ids"], "has 0 1h bars"),
        ({"instrument_ids": [424_242]}, ["instrument_ids"], "unknown instrument"),
        ({"instrument_ids": []}, ["instrument_ids"], "at least 1"),
        ({"objectives": ["sharpe", "profit"]}, ["objectives"], "distinct names among"),
        ({"split": [0.9, 0.05]}, ["split"], "three positive fractions"),
        ({"end": "2021-06-01"}, ["end"], "after start"),
        ({"timeframe": "2w"}, ["timeframe"], "unknown timeframe"),
        ({"random_seed": 2**70}, ["random_seed"], "between 0 and"),
    ],
)
def test_bad_input_is_a_422_with_field_details(api_client, markets, overrides, loc, fragment):
    # when
    response = _post(api_client, _body([m.pk for m in markets], **overrides))
    # then
    assert response.status_code == 422, response.content
    details = response.json()["detail"]
    found = [d for d in details if d["loc"][:2] == ["body", "payload"] and d["loc"][2:] == loc]
    assert found, details
    assert fragment in found[0]["msg"]
    assert not EvolutionRun.objects.exists()


def test_malformed_json_is_a_4xx_not_a_500(api_client):
    response = api_client.post(RUNS, "{not json", content_type="application/json")
    assert 400 <= response.status_code < 500


def test_a_pending_run_stops_and_a_finished_one_cannot(api_client, markets,
                                                       django_capture_on_commit_callbacks):
    # given a queued run (its task not sent yet)
    with django_capture_on_commit_callbacks(execute=False):
        created = _post(api_client, _body([m.pk for m in markets])).json()
    # when
    stopped = api_client.post(f"{RUNS}/{created['id']}/stop")
    again = api_client.post(f"{RUNS}/{created['id']}/stop")
    # then
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert again.status_code == 409 and "already finished" in again.json()["detail"]


def test_a_completed_run_cannot_resume(api_client, completed):
    response = api_client.post(f"{RUNS}/{completed['id']}/resume")
    assert response.status_code == 409


def test_unknown_runs_are_404(api_client, db):
    for path in ("/424242", "/424242/generations", "/424242/strategies"):
        assert api_client.get(f"{RUNS}{path}").status_code == 404
    assert api_client.post(f"{RUNS}/424242/stop").status_code == 404
    assert api_client.get(f"{RUNS}/99999999999999999999").status_code == 404


def test_bad_queries_are_422(api_client, completed):
    assert api_client.get(f"{RUNS}/{completed['id']}/strategies?scope=best").status_code == 422
    assert api_client.get(f"{RUNS}?status=sleeping").status_code == 422
    assert api_client.get(f"{RUNS}?limit=0").status_code == 422


def test_it_needs_authentication(client, db):
    assert client.get(RUNS).status_code == 401
    assert client.get("/api/v1/seeds").status_code == 401
