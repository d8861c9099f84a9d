"""The demo paper session a new installation starts: prices, votes, orders and P&L in a minute."""

from __future__ import annotations

from django_celery_beat.models import PeriodicTask

from organism.embedded.bootstrap import bootstrap
from tests.trading.sessions.conftest import step
from trading.models import DecisionRecord, OrderRecord, TradingSession
from trading.services.demo import DEMO_NAME, demo_session_ensure


def test_bootstrap_starts_a_demo_replay_and_the_watchdog(btc):
    # given: sample candles are in place
    said: list[str] = []
    # when
    bootstrap(say=said.append)
    # then
    demo = TradingSession.objects.get(is_demo=True)
    assert demo.name == DEMO_NAME and demo.mode == "paper" and demo.source == "replay"
    assert demo.status == "running" and demo.cadence_seconds == 1.0
    assert any("Demo paper session started" in line for line in said)
    tick = PeriodicTask.objects.get(task="trading.sessions_tick")
    assert tick.interval.every == 10 and tick.queue == "trading"


def test_a_minute_of_demo_shows_prices_votes_orders_and_pnl(btc):
    # given
    demo = demo_session_ensure(say=lambda _: None)
    # when: a minute at one candle a second
    for _ in range(60):
        step(demo)
    # then
    demo.refresh_from_db()
    assert demo.last_prices["BTC/USDT"] > 0 and demo.steps == 60
    votes = DecisionRecord.objects.filter(session=demo).exclude(action="ENTRY_REFUSED")
    assert votes.count() == 60 and len(votes.first().details["vote"]["signals"]) >= 6
    assert OrderRecord.objects.filter(session=demo).exists()
    assert demo.equity != demo.capital


def test_the_demo_is_created_once(btc):
    first = demo_session_ensure(say=lambda _: None)
    again = demo_session_ensure(say=lambda _: None)
    assert first.pk == again.pk and TradingSession.objects.filter(is_demo=True).count() == 1
    assert PeriodicTask.objects.filter(task="trading.sessions_tick").count() == 1


def test_without_enough_candles_no_demo_is_made(db):
    said: list[str] = []
    assert demo_session_ensure(say=said.append) is None
    assert "demo trading session skipped" in said[-1]
