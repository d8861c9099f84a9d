"""Backtest pages: list (sortable, live status), the form, a session, the comparison, admin;
and the live progress fragment through the real websocket."""

from __future__ import annotations

import json
import re
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from backtests.models import BacktestSession
from backtests.services import backtest_create, backtest_execute
from organism import live_fragments
from organism.asgi import application
from tests.asgi_websocket import WebsocketClient
from tests.factories import BacktestResultFactory, BacktestSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed(create_kwargs, user):
    session = backtest_create(**create_kwargs(user=user), enqueue=False)
    return backtest_execute(session_id=session.pk)


def _figure(html: str, figure_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="fig-{figure_id}">(.*?)</script>',
                      html, re.S)
    assert match, f"figure {figure_id} missing"
    return json.loads(match.group(1))


# --- list ---------------------------------------------------------------------------------------
def test_the_list_shows_sessions_with_their_metrics(logged_in_client):
    # given
    BacktestSessionFactory(name="winner", status="completed", total_return=0.25, sharpe=1.5)
    BacktestSessionFactory(name="loser", status="completed", total_return=-0.1, sharpe=-0.4)
    # when
    html = logged_in_client.get("/backtests/").content.decode()
    # then
    assert "winner" in html and "loser" in html
    assert "25.00%" in html and "-10.00%" in html and "1.50" in html
    assert 'id="sessions-table"' in html


def test_sorting_by_a_column_returns_the_table_fragment_for_htmx(logged_in_client):
    # given
    BacktestSessionFactory(name="low", sharpe=0.1)
    BacktestSessionFactory(name="high", sharpe=2.0)
    # when
    response = logged_in_client.get("/backtests/?sort=-sharpe", HTTP_HX_REQUEST="true")
    # then
    html = response.content.decode()
    assert "<html" not in html and html.strip().startswith('<section class="card" id="sessions-table"')
    assert html.index(">high<") < html.index(">low<")
    ascending = logged_in_client.get("/backtests/?sort=sharpe").content.decode()
    assert ascending.index(">low<") < ascending.index(">high<")


def test_unfinished_sessions_on_the_list_update_live(logged_in_client):
    # given
    running = BacktestSessionFactory(status="running", progress=0.4)
    done = BacktestSessionFactory(status="completed")
    # when
    html = logged_in_client.get("/backtests/").content.decode()
    # then the page joins the running session's group only
    assert f'ws-connect="/ws/live/?groups=backtest.{running.pk}"' in html
    assert f'id="backtest-status-{running.pk}"' in html and f"backtest.{done.pk}" not in html
    assert f'id="backtest-progress-{running.pk}"' in html and 'value="0.4000"' in html


def test_pages_require_login(client):
    response = client.get("/backtests/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- form ---------------------------------------------------------------------------------------
def test_the_form_generates_parameter_widgets_from_the_parameter_space(logged_in_client,
                                                                       btc_hourly):
    # when
    html = logged_in_client.get("/backtests/new/").content.decode()
    # then the default strategy's parameters, with bounds and defaults
    assert re.search(r'name="param_fast"[^>]*min="2"', html) or re.search(
        r'min="2"[^>]*name="param_fast"', html)
    assert 'name="param_slow"' in html and 'hx-get="/backtests/new/params/"' in html
    assert "BTC/USDT" in html


def test_choosing_another_strategy_swaps_the_parameter_widgets(logged_in_client):
    # when
    response = logged_in_client.get("/backtests/new/params/?strategy=rsi_mean_reversion",
                                    HTTP_HX_REQUEST="true")
    # then
    html = response.content.decode()
    assert html.strip().startswith('<div id="strategy-params"')
    assert 'name="param_oversold"' in html and 'name="param_fast"' not in html
    assert "Wilder" in html  # the strategy's description


def _form_data(instrument_id: int, **overrides) -> dict:
    data = {
        "strategy": "sma_crossover", "param_fast": "10", "param_slow": "50",
        "instruments": [str(instrument_id)], "timeframe": "1h", "start": "2022-01-01",
        "end": "2023-01-01", "kind": "vectorized", "initial_cash": "10000",
        "maker_fee": "0.0002", "taker_fee": "0.0005", "slippage": "0.0005",
        "sizing_mode": "fraction", "sizing_value": "1", "monte_carlo_paths": "1000",
        "walk_forward_windows": "3", "walk_forward_mode": "rolling",
    }
    data.update(overrides)
    return data


def test_submitting_the_form_starts_a_backtest(logged_in_client, btc_hourly, user,
                                               django_capture_on_commit_callbacks, settings):
    # given
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in_client.post("/backtests/new/", _form_data(btc_hourly.pk))
    # then
    session = BacktestSession.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/backtests/{session.pk}/"
    assert session.created_by == user and session.params == {"fast": 10, "slow": 50}
    assert session.options["monte_carlo_paths"] == 1000 and session.status == "completed"


def test_service_errors_are_shown_on_their_fields(logged_in_client, btc_hourly):
    # when: a range without data, and a slow average faster than the fast one
    response = logged_in_client.post("/backtests/new/", _form_data(
        btc_hourly.pk, start="2030-01-01", end="2030-06-01"))
    crossed = logged_in_client.post("/backtests/new/", _form_data(
        btc_hourly.pk, param_fast="60", param_slow="50"))
    # then
    assert response.status_code == 200 and not BacktestSession.objects.exists()
    html = response.content.decode()
    assert "has 0 1h bars" in html
    assert "must be greater than fast" in crossed.content.decode()


def test_a_parameter_out_of_range_is_refused_by_the_form(logged_in_client, btc_hourly):
    response = logged_in_client.post("/backtests/new/", _form_data(btc_hourly.pk,
                                                                    param_fast="1"))
    assert "greater than or equal to 2" in response.content.decode()
    assert not BacktestSession.objects.exists()


# --- detail -------------------------------------------------------------------------------------
def test_a_completed_session_shows_its_charts_and_tables(logged_in_client, completed,
                                                         btc_hourly):
    # when
    html = logged_in_client.get(f"/backtests/{completed.pk}/").content.decode()
    # then the Plotly figures are built on the server and embedded
    equity = _figure(html, "equity")
    assert [t["name"] for t in equity["data"]] == ["Strategy", "Buy and hold"]
    assert _figure(html, "drawdown")["data"][0]["fill"] == "tozeroy"
    candles = _figure(html, f"candles-{btc_hourly.pk}")
    assert [t["type"] for t in candles["data"]][:1] == ["candlestick"]
    assert {t.get("name") for t in candles["data"]} >= {"Entries", "Exits"}
    assert _figure(html, "monthly")["data"][0]["type"] == "heatmap"
    assert _figure(html, "trade-returns")["data"][0]["type"] == "histogram"
    assert len(_figure(html, "hours")["data"]) == 2
    assert "Monte Carlo" in _figure(html, "monte-carlo")["layout"]["title"]["text"]
    assert _figure(html, "walk-forward")["data"][0]["name"] == "Out-of-sample equity"
    # and the statistics, the splits side by side and the lookahead verdict
    assert 'id="stats-performance"' in html and "Profit factor" in html
    assert "In-sample" in html and "Out-of-sample" in html and "Walk-forward" in html
    assert "Passed: signals recomputed" in html
    assert "Probability of backtest overfitting" in html
    assert 'id="trades-table"' in html and "Trades 1–50 of" in html


def test_a_result_stored_in_an_older_shape_still_renders(logged_in_client, btc_hourly):
    # given a stored result whose Monte Carlo section lacks what today's chart reads
    result = BacktestResultFactory(
        statistics={"performance": {"total_return": 0.1}},
        monte_carlo={"n_paths": 100, "method": "bootstrap", "n_trades": 5, "fan": {"p50": [1]}},
        session__instruments=[btc_hourly],
    )
    # when
    response = logged_in_client.get(f"/backtests/{result.session.pk}/")
    # then the page shows what it can
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="fig-equity"' in html and 'id="fig-monte-carlo"' not in html


def test_the_trades_table_pages_with_htmx(logged_in_client, completed):
    response = logged_in_client.get(f"/backtests/{completed.pk}/?trades_page=2",
                                    HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.strip().startswith('<div id="trades-table">') and "Trades 51–" in html


def test_a_running_session_shows_live_progress(logged_in_client):
    # given
    session = BacktestSessionFactory(status="running", progress=0.55,
                                     progress_message="Walk-forward optimisation")
    # when
    html = logged_in_client.get(f"/backtests/{session.pk}/").content.decode()
    # then
    assert f'ws-connect="/ws/live/?groups=backtest.{session.pk}"' in html
    assert 'value="0.5500"' in html and "Walk-forward optimisation" in html
    assert f'action="/backtests/{session.pk}/cancel/"' in html
    assert "data-figure" not in html


def test_a_failed_session_shows_its_error(logged_in_client):
    session = BacktestSessionFactory(status="failed", error_message="ValueError: no bars")
    html = logged_in_client.get(f"/backtests/{session.pk}/").content.decode()
    assert "ValueError: no bars" in html and "ws-connect" not in html


def test_the_cancel_and_rerun_buttons(logged_in_client, create_kwargs, user):
    # given
    session = backtest_create(**create_kwargs(user=user), enqueue=False)
    # when
    cancelled = logged_in_client.post(f"/backtests/{session.pk}/cancel/")
    rerun = logged_in_client.post(f"/backtests/{session.pk}/rerun/")
    # then
    session.refresh_from_db()
    copy = BacktestSession.objects.exclude(pk=session.pk).get()
    assert cancelled.status_code == 302 and session.status == "cancelled"
    assert rerun["Location"] == f"/backtests/{copy.pk}/" and copy.rerun_of == session


def test_an_unknown_session_is_a_404(logged_in_client):
    assert logged_in_client.get("/backtests/424242/").status_code == 404


# --- compare ------------------------------------------------------------------------------------
def test_the_comparison_highlights_the_best_value_of_each_row(logged_in_client):
    # given
    calm = BacktestResultFactory(statistics={"performance": {"sharpe": 2.1, "total_return": 0.1,
                                                             "max_drawdown": -0.04}}).session
    bold = BacktestResultFactory(statistics={"performance": {"sharpe": 0.7, "total_return": 0.6,
                                                             "max_drawdown": -0.35}}).session
    # when
    html = logged_in_client.get(f"/backtests/compare/?ids={calm.pk}&ids={bold.pk}"
                                ).content.decode()
    # then
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r'<tr><th scope="row">([^<]+?)(?: <small.*?</small>)?</th>(.*?)</tr>', html, re.S)}
    cells = {label: re.findall(r'<td class="num( best)?"', row) for label, row in rows.items()}
    assert cells["Sharpe"] == [" best", ""]
    assert cells["Total return"] == ["", " best"]
    assert cells["Max drawdown"] == [" best", ""]
    assert cells["Trades"] == ["", ""]
    overlay = _figure(html, "compare-equity")
    assert [t["name"] for t in overlay["data"]] == [f"#{calm.pk} {calm.name}",
                                                    f"#{bold.pk} {bold.name}"]


def test_the_comparison_asks_for_two_sessions(logged_in_client):
    session = BacktestSessionFactory()
    html = logged_in_client.get(f"/backtests/compare/?ids={session.pk}").content.decode()
    assert "Select at least two backtests" in html


# --- admin --------------------------------------------------------------------------------------
def test_the_admin_lists_sessions_and_reruns_selected(client, staff_user, completed):
    # given
    client.force_login(staff_user)
    # when
    listing = client.get("/admin/backtests/backtestsession/?status__exact=completed")
    action = client.post("/admin/backtests/backtestsession/", {
        "action": "rerun_selected", "_selected_action": [completed.pk]})
    # then
    assert listing.status_code == 200 and completed.name in listing.content.decode()
    assert action.status_code == 302
    assert BacktestSession.objects.filter(rerun_of=completed, status="pending").count() == 1
    result = client.get(f"/admin/backtests/backtestresult/{completed.result.pk}/change/")
    assert result.status_code == 200 and 'name="statistics"' not in result.content.decode()


# --- live fragments -----------------------------------------------------------------------------
def test_a_progress_event_renders_out_of_band_status_and_progress():
    html = live_fragments.render_sync("backtest.progress", {
        "session_id": 12, "status": "running", "progress": 0.25, "message": "Monte Carlo"})
    assert 'id="backtest-status-12"' in html and 'id="backtest-progress-12"' in html
    assert html.count('hx-swap-oob="true"') == 2 and "Monte Carlo" in html
    assert "data-refresh-on-load" not in html
    finished = live_fragments.render_sync("backtest.progress", {
        "session_id": 12, "status": "completed", "progress": 1.0, "message": "completed"})
    assert "data-refresh-on-load" in finished and "<progress" not in finished


@pytest.mark.django_db(transaction=True)
def test_the_detail_page_socket_receives_progress_html_then_json(client, user, create_kwargs,
                                                                 unique_session_ids):
    # given a logged-in socket on the session's group
    session = backtest_create(**create_kwargs(user=user), enqueue=False)
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    headers = [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
               (b"origin", b"http://testserver")]

    async def scenario():
        socket = WebsocketClient(application, f"/ws/live/?groups=backtest.{session.pk}",
                                 headers=headers)
        connected, _ = await socket.connect(timeout=5)
        assert connected
        try:
            await sync_to_async(backtest_execute)(session_id=session.pk)
            received, deadline = [], time.monotonic() + 10
            while time.monotonic() < deadline and not (
                    received and received[-1].startswith("{") and '"completed"' in received[-1]):
                if await socket.receive_nothing(timeout=0.05):
                    continue
                received.append(await socket.receive_from())
            return received
        finally:
            await socket.disconnect()

    # when
    messages = async_to_sync(scenario)()
    # then each event arrives as the HTML fragment, then the JSON message
    assert f'id="backtest-progress-{session.pk}"' in messages[0]
    assert json.loads(messages[1])["payload"]["session_id"] == session.pk
    assert json.loads(messages[-1])["payload"]["status"] == "completed"
    assert 'data-refresh-on-load="1"' in messages[-2]
