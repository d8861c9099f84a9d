"""Trading pages: list, live session page, controls, journal, trade detail, order trace,
parameter sets, the create form, and the live fragments."""

from __future__ import annotations

import json

import pytest
from django.utils.html import escape

from organism import live_fragments
from tests.trading.sessions.conftest import REPLAY_START_MS, make_session, step
from trading.models import OrderRecord, TradeRecord, TradingSession
from trading.services.parameter_sets import parameter_set_create


@pytest.fixture
def traded(btc):
    """A replay session that closed a few trades."""
    session = make_session([btc], name="Traded replay")
    for _ in range(10):
        step(session)
    assert TradeRecord.objects.filter(session=session).exists()
    return TradingSession.objects.get(pk=session.pk)


def test_the_sessions_list_shows_status_pnl_and_health(logged_in_client, traded):
    page = logged_in_client.get("/trading/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Traded replay" in html and f'id="session-row-{traded.pk}"' in html
    assert "session-running" in html and "health-ok" in html
    assert f"trading.{traded.pk}" in html  # the page listens to the session's group


def test_the_session_page_renders_every_panel(logged_in_client, traded):
    page = logged_in_client.get(f"/trading/{traded.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    for block in ("status-bar", "positions", "open-orders", "votes", "alerts", "recent-trades",
                  "price-chart", "equity-chart", "agents"):
        assert f'id="{block}"' in html, block
    assert "vendor/plotly/plotly.min.js" in html and f"ws-connect=\"/ws/live/?groups=trading.{traded.pk}\"" in html
    assert "momentum" in html and "Emergency stop" in html


def test_the_charts_show_processed_candles_fills_grid_and_equity(logged_in_client, traded):
    charts = logged_in_client.get(f"/trading/{traded.pk}/charts.json").json()
    price, equity = charts["price"], charts["equity"]
    candles = next(t for t in price["data"] if t["type"] == "candlestick")
    assert max(candles["x"]) <= traded.last_candle_ms + 3_600_000  # never the replay's future
    assert {t["name"] for t in price["data"]} >= {"buy fills", "sell fills"}
    assert len(price["layout"]["shapes"]) >= 8  # grid levels
    assert len(equity["data"][0]["y"]) == len(equity["data"][0]["x"]) > 100


def test_control_buttons_post_and_redirect(logged_in_client, btc):
    session = make_session([btc])
    response = logged_in_client.post(f"/trading/{session.pk}/pause/")
    assert response.status_code == 302
    assert TradingSession.objects.get(pk=session.pk).status == "paused"
    again = logged_in_client.post(f"/trading/{session.pk}/pause/", follow=True)
    assert "only a running session can be paused" in again.content.decode()
    assert logged_in_client.get(f"/trading/{session.pk}/pause/").status_code == 405


def test_the_control_forms_are_csrf_protected(client, user, btc):
    from django.test import Client

    session = make_session([btc])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(f"/trading/{session.pk}/emergency-stop/").status_code == 403


def test_agent_weights_are_editable_on_the_page(logged_in_client, btc):
    session = make_session([btc])
    form = {f"weight_{n}": "1" for n in ("volatility", "momentum", "volume_profile",
                                         "market_structure", "regime", "time_decay",
                                         "correlation", "sentiment")}
    form |= {"weight_momentum": "4", "enabled_momentum": "on", "enabled_volatility": "on"}
    response = logged_in_client.post(f"/trading/{session.pk}/agents/", form)
    assert response.status_code == 302
    updated = TradingSession.objects.get(pk=session.pk)
    assert updated.agent_weights["momentum"] == 4.0
    assert updated.agents_enabled == ["volatility", "momentum"]


def test_the_journal_filters_trades(logged_in_client, traded):
    outcome = TradeRecord.objects.filter(session=traded).first().outcome
    page = logged_in_client.get(f"/trading/{traded.pk}/journal/?outcome={outcome}")
    html = page.content.decode()
    assert page.status_code == 200 and "why?" in html
    expected = TradeRecord.objects.filter(session=traded, outcome=outcome).count()
    assert html.count("why?</a>") == expected
    fragment = logged_in_client.get(f"/trading/{traded.pk}/journal/?outcome=big_win",
                                    HTTP_HX_REQUEST="true")
    assert fragment.content.decode().lstrip().startswith('<section class="card" id="trades-table">')


def test_the_trade_detail_explains_why_it_traded(logged_in_client, traded):
    trade = TradeRecord.objects.filter(session=traded).first()
    page = logged_in_client.get(f"/trading/{traded.pk}/trades/{trade.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "Why did it trade?" in html
    assert escape(trade.entry_context["reasoning"][:40]) in html
    for signal in trade.entry_context["signals"]:
        assert signal["agent"] in html
    assert "Best possible exit" in html and "efficiency" in html


def test_the_order_trace_shows_creation_updates_and_fills(logged_in_client, traded):
    order = OrderRecord.objects.filter(session=traded, status="FILLED").first()
    page = logged_in_client.get(f"/trading/orders/{order.client_order_id}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "PENDING" in html and "SUBMITTED → FILLED" in html and "timeline-fill" in html
    assert logged_in_client.get("/trading/orders/nope/").status_code == 404


def test_the_new_session_form_creates_a_paper_session(logged_in_client, btc):
    assert logged_in_client.get("/trading/new/").status_code == 200
    response = logged_in_client.post("/trading/new/", {
        "name": "From the form", "instruments": [btc.pk], "capital": "2500",
        "risk_profile": "moderate", "timeframe": "1h", "mode": "paper", "candles_per_step": "1",
        "replay_start": "2023-02-01T00:00"})
    session = TradingSession.objects.get(name="From the form")
    assert response.status_code == 302 and response["Location"] == f"/trading/{session.pk}/"
    assert session.replay_start_ms == REPLAY_START_MS and session.mode == "paper"


def test_the_form_refuses_live_trading_with_the_reason(logged_in_client, btc, settings):
    settings.ORGANISM_LIVE_TRADING = False
    response = logged_in_client.post("/trading/new/", {
        "name": "Live", "instruments": [btc.pk], "capital": "2500", "risk_profile": "moderate",
        "timeframe": "1h", "mode": "live", "candles_per_step": "1", "confirm_live": "LIVE"})
    html = response.content.decode()
    assert response.status_code == 200 and "ORGANISM_LIVE_TRADING=1" in html
    assert not TradingSession.objects.filter(name="Live").exists()


def test_parameter_set_pages(logged_in_client, db):
    created = logged_in_client.post("/trading/parameters/new/", {
        "name": "page set", "values": json.dumps({"risk": {"max_drawdown": 0.1}}),
        "tags": "a, b", "notes": ""})
    assert created.status_code == 302
    listing = logged_in_client.get("/trading/parameters/").content.decode()
    assert "page set" in listing and "v1" in listing
    bad = logged_in_client.post("/trading/parameters/new/", {"name": "x", "values": "{oops"})
    assert "must be JSON" in bad.content.decode()
    params = parameter_set_create(name="other", values={})
    assert logged_in_client.get(f"/trading/parameters/{params.pk}/").status_code == 200


def test_the_live_fragments_swap_the_session_panels_out_of_band(traded):
    html = live_fragments.render_sync("trading.update", {
        "session_id": traded.pk, "kind": "step", "status": "running", "last_ts_ms": 1})
    for block in ("status-bar", "positions", "open-orders", "votes", "alerts", "recent-trades",
                  f"session-row-{traded.pk}"):
        assert f'id="{block}"' in html and 'hx-swap-oob="true"' in html, block


def test_the_admin_lists_sessions_orders_trades_and_parameter_sets(client, staff_user, traded):
    client.force_login(staff_user)
    for model in ("tradingsession", "orderrecord", "traderecord", "parameterset",
                  "exchangeaccount", "decisionrecord", "sessionalert", "fillrecord"):
        assert client.get(f"/admin/trading/{model}/").status_code == 200, model
    trade = TradeRecord.objects.filter(session=traded).first()
    assert client.get(f"/admin/trading/traderecord/{trade.pk}/change/").status_code == 200
    assert client.get(f"/admin/trading/tradingsession/{traded.pk}/change/").status_code == 200
    stopped = client.post("/admin/trading/tradingsession/", {
        "action": "session_stop_action", "_selected_action": [traded.pk]})
    assert stopped.status_code == 302
    assert TradingSession.objects.get(pk=traded.pk).status == "stopped"


def test_the_admin_versions_a_used_parameter_set(client, staff_user, btc):
    used = parameter_set_create(name="admin", values={"risk": {"max_drawdown": 0.1}})
    make_session([btc], parameter_set=used)
    client.force_login(staff_user)
    response = client.post(f"/admin/trading/parameterset/{used.pk}/change/", {
        "values": json.dumps({"risk": {"max_drawdown": 0.2}}), "tags": "[]", "notes": "v2"})
    assert response.status_code == 302
    used.refresh_from_db()
    assert used.values == {"risk": {"max_drawdown": 0.1}}
    assert used.children.get().values == {"risk": {"max_drawdown": 0.2}}


def test_a_session_that_never_ran_has_a_page_and_empty_charts(logged_in_client, btc):
    from trading.services.sessions import session_create

    session = session_create(name="Fresh", instruments=[btc], capital=1_000)
    page = logged_in_client.get(f"/trading/{session.pk}/")
    charts = logged_in_client.get(f"/trading/{session.pk}/charts.json").json()
    assert page.status_code == 200 and "No vote yet" in page.content.decode()
    assert charts["symbol"] == "BTC/USDT" and charts["price"]["data"] == []
