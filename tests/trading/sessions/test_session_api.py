"""The trading API under /api/v1/trading/: auth, 422 on bad input, control, journal, metrics."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.trading.sessions.conftest import REPLAY_START_MS, make_session, step
from trading.models import TradingSession
from trading.services.accounts import exchange_account_create

BASE = "/api/v1/trading"
SECRET = "Zx9-very-secret-api-key-value-0123456789"


def _post(client, url: str, body: dict | None = None, method: str = "post"):
    return getattr(client, method)(url, data=json.dumps(body or {}),
                                   content_type="application/json")


def test_every_endpoint_needs_authentication(client, btc):
    session = make_session([btc])
    for url in (f"{BASE}/sessions", f"{BASE}/sessions/{session.pk}/trades", f"{BASE}/metrics",
                f"{BASE}/parameter-sets"):
        assert client.get(url).status_code == 401, url
    assert _post(client, f"{BASE}/sessions/{session.pk}/stop").status_code == 401


def test_a_session_is_created_with_symbol_capital_and_tolerance(api_client, btc):
    # when
    response = _post(api_client, f"{BASE}/sessions", {
        "name": "API", "instrument_ids": [btc.pk], "capital": 2500, "risk_profile": "aggressive",
        "replay_start_ms": REPLAY_START_MS})
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mode"] == "paper" and body["status"] == "stopped"
    assert body["symbols"] == ["BTC/USDT"] and body["capital"] == 2500.0
    assert TradingSession.objects.get(pk=body["id"]).created_by.username == "alice"


@pytest.mark.parametrize("body, where", [
    ({"name": "x", "instrument_ids": [], "capital": 100}, "instrument_ids"),
    ({"name": "x", "instrument_ids": [1], "capital": -1}, "capital"),
    ({"name": "x", "instrument_ids": [1], "capital": 100, "risk_profile": "yolo"},
     "risk_profile"),
    ({"name": "x", "instrument_ids": [999999], "capital": 100}, "instrument_ids"),
    ({"name": "x", "capital": 100}, "instrument_ids"),
    ({"name": "x", "instrument_ids": [1], "capital": 100, "overrides": {"max_drawdown": 9}},
     "overrides.max_drawdown"),
])
def test_bad_input_is_a_422_naming_the_field(api_client, btc, body, where):
    if body.get("instrument_ids") == [1]:
        body["instrument_ids"] = [btc.pk]
    response = _post(api_client, f"{BASE}/sessions", body)
    assert response.status_code == 422, response.content
    assert any(where in ".".join(map(str, d["loc"])) for d in response.json()["detail"])


def test_garbage_is_a_422_not_a_500(api_client, btc):
    session = make_session([btc])
    response = api_client.post(f"{BASE}/sessions", data="{nope", content_type="application/json")
    assert response.status_code in (400, 422)
    assert _post(api_client, f"{BASE}/sessions/{session.pk}/agents",
                 {"weights": {"momentum": "x"}}, method="put").status_code == 422
    assert _post(api_client, f"{BASE}/sessions/{session.pk}/agents/oracle/weight",
                 {"weight": 2}, method="put").status_code == 422
    assert api_client.get(f"{BASE}/sessions/{session.pk}/trades?limit=0").status_code == 422
    assert api_client.get(f"{BASE}/sessions/987654/trades").status_code == 404


def test_live_mode_is_refused_with_a_clear_message(client, staff_user, btc, settings):
    # given: a staff user, live trading disabled on the server
    settings.ORGANISM_LIVE_TRADING = False
    client.force_login(staff_user)
    account = exchange_account_create(exchange=btc.exchange, label="x", api_key=SECRET,
                                      api_secret=SECRET)
    # when
    response = _post(client, f"{BASE}/sessions", {
        "name": "Live", "instrument_ids": [btc.pk], "capital": 100, "mode": "live",
        "exchange_account_id": account.pk, "confirm_live": True})
    # then
    assert response.status_code == 422
    messages = " ".join(d["msg"] for d in response.json()["detail"])
    assert "ORGANISM_LIVE_TRADING=1" in messages


def test_live_mode_is_for_staff_only(api_client, btc):
    response = _post(api_client, f"{BASE}/sessions", {
        "name": "Live", "instrument_ids": [btc.pk], "capital": 100, "mode": "live",
        "confirm_live": True})
    assert response.status_code == 403


def test_start_pause_stop_and_emergency_stop(api_client, btc):
    # given
    created = _post(api_client, f"{BASE}/sessions", {
        "name": "Ctl", "instrument_ids": [btc.pk], "capital": 1000,
        "replay_start_ms": REPLAY_START_MS}).json()
    url = f"{BASE}/sessions/{created['id']}"
    # when / then
    assert _post(api_client, f"{url}/start").json()["status"] == "running"
    paused = _post(api_client, f"{url}/pause").json()
    assert paused["status"] == "paused" and paused["pending_command"] == "pause"
    assert _post(api_client, f"{url}/pause").status_code == 422  # not running
    assert _post(api_client, f"{url}/start").json()["status"] == "running"
    halted = _post(api_client, f"{url}/emergency-stop", {"reason": "test"}).json()
    assert halted["status"] == "halted" and halted["status_reason"] == "test"
    assert _post(api_client, f"{url}/stop").json()["status"] == "stopped"
    assert api_client.delete(url).status_code == 204


def test_config_and_agents(api_client, btc):
    session = make_session([btc])
    url = f"{BASE}/sessions/{session.pk}"
    config = api_client.get(f"{url}/config").json()
    assert config["profile"]["tolerance"] == "aggressive" and config["overrides"] == {}
    changed = _post(api_client, f"{url}/config", {"overrides": {"max_daily_trades": 3}},
                    method="put").json()
    assert changed["profile"]["max_daily_trades"] == 3
    agents = _post(api_client, f"{url}/agents/momentum/weight", {"weight": 3.5},
                   method="put").json()
    assert {a["name"]: a["weight"] for a in agents}["momentum"] == 3.5


def test_the_journal_and_analytics_after_a_replay(api_client, btc):
    # given: a replay that traded
    session = make_session([btc])
    for _ in range(10):
        step(session)
    url = f"{BASE}/sessions/{session.pk}"
    # when
    trades = api_client.get(f"{url}/trades").json()
    orders = api_client.get(f"{url}/orders").json()
    # then
    assert trades and orders
    detail = api_client.get(f"{url}/trades/{trades[0]['id']}").json()
    assert {"signals", "consensus", "market", "reasoning", "decision"} <= set(
        detail["entry_context"])
    trace = api_client.get(f"{url}/orders/{orders[-1]['client_order_id']}").json()
    assert trace["timeline"][0]["kind"] == "created" and trace["order"]["history"]
    decisions = api_client.get(f"{url}/decisions?action=SKIP&limit=5&details=true").json()
    assert len(decisions) == 5 and decisions[0]["details"]["vote"]["signals"]
    performance = api_client.get(f"{url}/performance").json()
    assert performance["trades"] == len(trades) and performance["max_drawdown"] is not None
    quality = api_client.get(f"{url}/execution-quality").json()
    assert quality["fills"] > 0 and quality["slippage_bps_mean"] is not None
    agents = api_client.get(f"{url}/agents/performance").json()
    assert {a["name"] for a in agents} >= {"momentum", "volatility"}
    assert api_client.get(f"{url}/positions?include_flat=true").json()
    assert api_client.get(f"{url}/equity").json()["equity"]


def test_parameter_sets_are_versioned_over_the_api(api_client, btc):
    created = _post(api_client, f"{BASE}/parameter-sets",
                    {"name": "api", "values": {"risk": {"max_drawdown": 0.1}}})
    assert created.status_code == 201 and created.json()["version"] == 1
    bad = _post(api_client, f"{BASE}/parameter-sets", {"name": "api", "values": {"x": {}}})
    assert bad.status_code == 422
    revised = _post(api_client, f"{BASE}/parameter-sets/{created.json()['id']}/versions",
                    {"notes": "same id while unused"}).json()
    assert revised["id"] == created.json()["id"] and revised["used"] is False


def test_accounts_are_staff_only_and_keys_write_only(api_client, staff_user, btc):
    assert api_client.get(f"{BASE}/accounts").status_code == 403
    client = Client()
    client.force_login(staff_user)
    response = _post(client, f"{BASE}/accounts", {
        "exchange": "binance", "label": "main", "api_key": SECRET, "api_secret": SECRET + "s"})
    assert response.status_code == 201
    assert SECRET not in response.content.decode()
    listed = client.get(f"{BASE}/accounts")
    assert listed.json()[0]["has_keys"] is True and SECRET not in listed.content.decode()


def test_metrics_are_in_the_prometheus_text_format(api_client, btc):
    session = make_session([btc])
    step(session)
    response = api_client.get(f"{BASE}/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert f'organism_trading_equity{{session="{session.pk}",mode="paper",name="Replay"}}' in text
    assert 'organism_trading_sessions{status="running"} 1' in text
    assert "# TYPE organism_trading_agent_confidence histogram" in text
    assert 'organism_trading_agent_confidence_bucket{agent="momentum",le="+Inf"}' in text
    assert "organism_websocket_reconnects_total" in text


def test_a_session_is_renamed_and_started_without_a_body(api_client, btc):
    session = make_session([btc])
    renamed = _post(api_client, f"{BASE}/sessions/{session.pk}", {"name": "Renamed",
                                                                  "cadence_seconds": 5},
                    method="patch").json()
    assert renamed["name"] == "Renamed" and renamed["cadence_seconds"] == 5
    api_client.post(f"{BASE}/sessions/{session.pk}/stop")
    started = api_client.generic("POST", f"{BASE}/sessions/{session.pk}/start")  # no body
    assert started.status_code == 200 and started.json()["status"] == "running"
