"""Evolution pages: runs list, new-run form, run page (live), strategy page, seeds page."""

from __future__ import annotations

import json
import re
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from backtests.models import BacktestSession
from evolution.live_updates import generation_fragment
from evolution.models import EvolutionRun, Strategy
from evolution.services import evolution_run_create, evolution_run_serial
from organism.asgi import application
from organism.realtime import validate_event
from tests.asgi_websocket import WebsocketClient
from tests.evolution.conftest import FAST_SEEDS


def _figure(html: str, figure_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="fig-{figure_id}">(.*?)</script>',
                      html, re.S)
    assert match, f"figure {figure_id} not in the page"
    return json.loads(match.group(1))


@pytest.fixture
def finished(run_kwargs):
    """A completed serial run: 10 genomes x 4 generations, 3 strategies validated."""
    run = evolution_run_create(**run_kwargs(population=10, generations=4, random_seed=3,
                                            validate_top=3), enqueue=False)
    return evolution_run_serial(run_id=run.pk)


# --- runs list and form ---------------------------------------------------------------------
def test_the_runs_list_shows_runs_and_follows_unfinished_ones(logged_in_client, run_kwargs,
                                                              finished):
    # given a queued run next to the finished one
    queued = evolution_run_create(**run_kwargs(name="queued one"), enqueue=False)
    # when
    html = logged_in_client.get("/evolution/").content.decode()
    # then
    assert f'id="evolution-status-{finished.pk}"' in html and "completed" in html
    assert "queued one" in html and f"/evolution/{queued.pk}/" in html
    assert f'ws-connect="/ws/live/?groups=evolution.{queued.pk}"' in html


def test_the_form_offers_every_seed_with_its_description(logged_in_client, markets):
    html = logged_in_client.get("/evolution/new/").content.decode()
    assert html.count('name="seeds"') == 12
    assert "Donchian" in html and "Ichimoku" in html and "funding" in html.lower()
    assert 'name="population"' in html and 'name="random_seed"' in html
    assert "BTC/USDT" in html  # instruments with candles


def _form(markets, **overrides) -> dict:
    data = {"seeds": FAST_SEEDS[:4], "instruments": [str(m.pk) for m in markets],
            "timeframe": "1h", "start": "2022-01-01", "end": "2022-05-01", "in_sample": "0.6",
            "out_of_sample": "0.2", "population": "8", "generations": "2",
            "objectives": ["sharpe", "consistency", "max_drawdown", "turnover"],
            "random_seed": "4", "maker_fee": "0.0002", "taker_fee": "0.0005",
            "slippage": "0.0005", "batch_size": "4", "validate_top": "1"}
    data.update(overrides)
    return data


def test_submitting_the_form_starts_a_run(logged_in_client, markets, user, eager,
                                          django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in_client.post("/evolution/new/", _form(markets))
    # then
    run = EvolutionRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/evolution/{run.pk}/"
    assert run.created_by == user and run.seeds == FAST_SEEDS[:4]
    assert run.population == 8 and run.status == "completed"


def test_service_errors_are_shown_on_their_fields(logged_in_client, markets):
    response = logged_in_client.post("/evolution/new/", _form(markets, start="2030-01-01",
                                                              end="2030-06-01"))
    assert response.status_code == 200 and not EvolutionRun.objects.exists()
    assert "has 0 1h bars in the in-sample span" in response.content.decode()
    split = logged_in_client.post("/evolution/new/", _form(markets, in_sample="0.9",
                                                           out_of_sample="0.2"))
    assert "room for the walk-forward span" in split.content.decode()


# --- run page -------------------------------------------------------------------------------
def test_a_finished_run_shows_convergence_pareto_and_oos_next_to_is(logged_in_client, finished):
    # when
    html = logged_in_client.get(f"/evolution/{finished.pk}/").content.decode()
    # then the convergence chart holds the best and median combined score of every generation
    convergence = _figure(html, f"convergence-{finished.pk}")
    traces = {t["name"]: t for t in convergence["data"]}
    assert set(traces) == {"Best", "Median", "Worst"}
    best = [s.best_combined for s in finished.generation_stats.order_by("generation")]
    assert traces["Best"]["y"] == pytest.approx(best) and traces["Best"]["x"] == [0, 1, 2, 3]
    objectives = _figure(html, f"objectives-{finished.pk}")
    assert len(objectives["data"]) == 8  # best and median of four objectives
    # the Pareto front's hover gives each genome in words and links its strategy page
    pareto = _figure(html, f"pareto-{finished.pk}")["data"][0]
    assert all("Enter on" in text for text in pareto["hovertext"])
    assert all(url.startswith("/evolution/strategies/") for url in pareto["customdata"])
    # the top strategies show out-of-sample figures next to in-sample ones
    table = html[html.index('id="top-strategies"'):html.index('id="top-strategies"') + 20_000]
    assert table.count('class="num oos') >= 3 * 5
    for identity in finished.validation:
        assert f"/evolution/strategies/{identity}/" in table
    assert "Deflated Sharpe" in html and "PBO" in html
    assert "ws-connect" not in html  # finished: nothing to follow


def test_an_unfinished_run_page_follows_its_group(logged_in_client, run_kwargs):
    run = evolution_run_create(**run_kwargs(), enqueue=False)
    html = logged_in_client.get(f"/evolution/{run.pk}/").content.decode()
    assert f'ws-connect="/ws/live/?groups=evolution.{run.pk}"' in html
    assert f'id="evolution-progress-{run.pk}"' in html and ">Stop</button>" in html
    body = logged_in_client.get(f"/evolution/{run.pk}/", HTTP_HX_REQUEST="true")
    assert body.content.decode().lstrip().startswith('<div id="run-body"')


def test_a_generation_event_renders_status_progress_and_the_chart_out_of_band(finished):
    # given the payload a stored generation publishes
    payload = {"run_id": finished.pk, "generation": 2, "generations": 4, "status": "running",
               "kind": "generation", "progress": 0.45, "best_combined": 0.5,
               "message": "generation 2/4 done"}
    validate_event("evolution.generation", payload)
    # when
    html = generation_fragment(payload)
    # then
    assert f'id="evolution-status-{finished.pk}"' in html
    assert f'id="evolution-progress-{finished.pk}"' in html and 'value="0.4500"' in html
    assert f'id="evolution-convergence-{finished.pk}"' in html
    assert html.count('hx-swap-oob="true"') == 3
    assert f'id="fig-convergence-{finished.pk}"' in html
    progress_only = generation_fragment({**payload, "kind": "progress"})
    assert "evolution-convergence" not in progress_only


def test_the_stop_button_stops_a_queued_run(logged_in_client, run_kwargs):
    run = evolution_run_create(**run_kwargs(), enqueue=False)
    response = logged_in_client.post(f"/evolution/{run.pk}/stop/")
    run.refresh_from_db()
    assert response.status_code == 302 and run.status == "stopped"
    again = logged_in_client.post(f"/evolution/{run.pk}/stop/", follow=True)
    assert "already finished" in again.content.decode()


# --- strategy page --------------------------------------------------------------------------
def test_a_strategy_page_shows_genome_splits_equity_trades_and_lineage(logged_in_client,
                                                                       finished):
    # given the best validated strategy and a strategy with a stored parent
    best = Strategy.objects.get(identity=next(iter(finished.validation)))
    child = next(s for s in Strategy.objects.filter(run=finished, generation__gte=1)
                 if s.parents.exists())
    # when
    html = logged_in_client.get(f"/evolution/strategies/{best.identity}/").content.decode()
    # then the genome in words, its blocks, and the metrics by split side by side
    assert best.description in html and "Enter on" in html
    assert "In-sample" in html and "Out-of-sample" in html and "Walk-forward" in html
    assert "no lookahead" in html
    # equity over the whole range with the splits marked, and the trades
    equity = _figure(html, f"equity-{best.pk}")
    assert [t["name"] for t in equity["data"]] == ["Strategy", "Buy and hold"]
    assert len(equity["layout"]["shapes"]) == 2
    assert "Exit reason" in html and "Open as a backtest session" in html
    # lineage links both ways
    parent = child.parents.first()
    child_html = logged_in_client.get(f"/evolution/strategies/{child.pk}/").content.decode()
    assert f"/evolution/strategies/{parent.identity}/" in child_html
    parent_html = logged_in_client.get(
        f"/evolution/strategies/{parent.identity}/").content.decode()
    assert f"/evolution/strategies/{child.identity}/" in parent_html


def test_the_backtest_button_opens_a_backtest_session(logged_in_client, finished, user):
    strategy = Strategy.objects.filter(run=finished).first()
    response = logged_in_client.post(f"/evolution/strategies/{strategy.identity}/backtest/")
    session = BacktestSession.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/backtests/{session.pk}/"
    assert session.strategy == f"genome:{strategy.seed_or_combo}" and session.created_by == user


def test_unknown_pages_are_404(logged_in_client, db):
    assert logged_in_client.get("/evolution/424242/").status_code == 404
    assert logged_in_client.get("/evolution/strategies/nope_1_00000000/").status_code == 404


def test_the_seeds_page_describes_all_twelve_with_their_parameters(logged_in_client):
    html = logged_in_client.get("/evolution/seeds/").content.decode()
    assert html.count('class="card seed"') == 12
    assert "entry_period" in html and "10 … 100" in html and "log" in html


def test_pages_need_a_login(client, db):
    assert client.get("/evolution/").status_code == 302


# --- live over the websocket ----------------------------------------------------------------
def _session_headers(client, user) -> list[tuple[bytes, bytes]]:
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
            (b"origin", b"http://testserver")]


async def _until_completed(communicator, run_id: int, seconds: float) -> list[str]:
    received: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await communicator.receive_nothing(timeout=0.05):
            continue
        text = await communicator.receive_from()
        received.append(text)
        if text.startswith("{") and json.loads(text)["payload"]["status"] == "completed":
            break
    return received


@pytest.mark.django_db(transaction=True)
def test_the_run_page_updates_live_while_the_run_evolves(client, user, run_kwargs, eager,
                                                         unique_run_ids):
    # given a queued run and a browser following it
    run = evolution_run_create(**run_kwargs(), enqueue=False)
    headers = _session_headers(client, user)

    async def scenario():
        communicator = WebsocketClient(application, f"/ws/live/?groups=evolution.{run.pk}",
                                       headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        try:
            await sync_to_async(evolution_run_serial)(run_id=run.pk)
            return await _until_completed(communicator, run.pk, seconds=15)
        finally:
            await communicator.disconnect()

    # when the run evolves
    messages = async_to_sync(scenario)()
    # then every stored generation sent its convergence chart, then the JSON event
    events = [json.loads(m) for m in messages if m.startswith("{")]
    for event in events:
        assert event["event"] == "evolution.generation" and event["payload"]["run_id"] == run.pk
        validate_event("evolution.generation", event["payload"])
    kinds = [e["payload"]["kind"] for e in events]
    assert kinds.count("generation") == 3 and events[-1]["payload"]["status"] == "completed"
    charts = [m for m in messages if f'id="evolution-convergence-{run.pk}"' in m]
    assert len(charts) == 3 and all('hx-swap-oob="true"' in m for m in charts)
    assert any('data-refresh-on-load="1"' in m for m in messages)  # reload when finished


# --- admin ----------------------------------------------------------------------------------
def test_the_admin_browses_runs_and_edits_a_strategys_lifecycle(client, staff_user, finished):
    from organism.models import AuditEntry

    client.force_login(staff_user)
    strategy = Strategy.objects.filter(run=finished).first()
    for path in ("/admin/evolution/evolutionrun/", f"/admin/evolution/evolutionrun/{finished.pk}/"
                 "change/", "/admin/evolution/strategy/", "/admin/evolution/trial/",
                 "/admin/evolution/generationstat/"):
        assert client.get(path).status_code == 200, path
    # trials and generation statistics are records, not editable
    trial = finished.trials.first()
    page = client.get(f"/admin/evolution/trial/{trial.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    # when staff move a strategy to testing
    response = client.post(f"/admin/evolution/strategy/{strategy.pk}/change/",
                           {"status": "testing", "_save": "Save"})
    # then the lifecycle changed and the audit log says who did it
    strategy.refresh_from_db()
    assert response.status_code == 302 and strategy.status == "testing"
    entry = AuditEntry.objects.get(action="evolution.strategy.status")
    assert entry.user == staff_user and entry.details == {"from": "born", "to": "testing"}
