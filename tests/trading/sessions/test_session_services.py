"""Session services: creation with derived settings, live-mode refusal, operator commands."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tests.factories import ExchangeFactory, InstrumentFactory
from tests.trading.sessions.conftest import REPLAY_START_MS, make_session, step
from trading.models import (
    DecisionRecord,
    OrderRecord,
    PositionRecord,
    SessionAlert,
    TradingSession,
)
from trading.services.accounts import exchange_account_create
from trading.services.sessions import (
    session_agents_update,
    session_config_update,
    session_create,
    session_delete,
    session_emergency_stop,
    session_mode_set,
    session_pause,
    session_start,
    session_stop,
)
from trading.session_selectors import agent_states


def _account(btc):
    return exchange_account_create(exchange=btc.exchange, label="main", api_key="k" * 32,
                                   api_secret="s" * 48)


def test_symbol_capital_and_tolerance_are_enough_to_create_a_paper_session(btc):
    # when
    session = session_create(name="Simple", instruments=[btc], capital=5_000,
                             risk_profile="conservative")
    # then
    assert session.mode == "paper" and session.status == "stopped"
    assert session.source == "replay" and session.replay_start_ms is not None
    assert session.cadence_seconds == 2.0 and session.config == {}


def test_starting_derives_the_risk_profile_from_the_market_before_the_start(btc):
    # given
    session = session_create(name="Derived", instruments=[btc], capital=5_000,
                             risk_profile="conservative", replay_start_ms=REPLAY_START_MS,
                             overrides={"max_drawdown": 0.07})
    # when
    started = session_start(session=session)
    # then
    config = started.config
    assert started.status == "running" and started.next_step_at is not None
    assert config["symbols"] == ["BTC/USDT"] and config["tolerance"] == "conservative"
    assert config["derived_from_bars"]["last_ms"] < REPLAY_START_MS
    profile = config["profile"]
    assert profile["capital"] == 5_000 and 0 < profile["trail_distance"] <= 0.1
    assert profile["derived_from"]["daily_volatility"] > 0
    assert 0.005 <= profile["grid_spacing"] <= 0.05


@pytest.mark.parametrize("bad, field", [
    ({"capital": -5}, "capital"),
    ({"capital": "lots"}, "capital"),
    ({"risk_profile": "reckless"}, "risk_profile"),
    ({"timeframe": "7m"}, "timeframe"),
    ({"instruments": []}, "instruments"),
    ({"agent_weights": {"astrology": 2.0}}, "agent_weights.astrology"),
    ({"overrides": {"max_drawdown": 3}}, "overrides.max_drawdown"),
    ({"cadence_seconds": 0.01}, "cadence_seconds"),
])
def test_bad_input_is_refused_with_the_field_named(btc, bad, field):
    values = {"name": "Bad", "instruments": [btc], "capital": 1_000} | bad
    with pytest.raises(ValidationError) as refused:
        session_create(**values)
    assert field in refused.value.message_dict


def test_an_instrument_without_enough_candles_is_refused(btc):
    empty = InstrumentFactory(exchange=btc.exchange, symbol="XRP/USDT", base="XRP")
    with pytest.raises(ValidationError) as refused:
        session_create(name="No data", instruments=[empty], capital=1_000)
    assert "candles" in refused.value.message_dict["instruments"][0]


def test_live_mode_is_refused_unless_enabled_keyed_and_confirmed(btc, settings):
    # given: live trading disabled, no account, no confirmation
    settings.ORGANISM_LIVE_TRADING = False
    with pytest.raises(ValidationError) as refused:
        session_create(name="Live", instruments=[btc], capital=1_000, mode="live")
    errors = refused.value.message_dict
    assert "ORGANISM_LIVE_TRADING=1" in errors["mode"][0]
    assert "exchange account" in errors["exchange_account"][0]
    assert "confirm" in errors["confirm_live"][0]
    # when enabled with an account but not confirmed
    settings.ORGANISM_LIVE_TRADING = True
    account = _account(btc)
    with pytest.raises(ValidationError) as refused:
        session_create(name="Live", instruments=[btc], capital=1_000, mode="live",
                       exchange_account=account)
    assert set(refused.value.message_dict) == {"confirm_live"}
    # then: with everything in place it is created, trading the market, still stopped
    live = session_create(name="Live", instruments=[btc], capital=1_000, mode="live",
                          exchange_account=account, confirm_live=True)
    assert live.mode == "live" and live.source == "market" and live.status == "stopped"


def test_a_live_session_cannot_start_once_live_trading_is_disabled(btc, settings):
    settings.ORGANISM_LIVE_TRADING = True
    live = session_create(name="Live", instruments=[btc], capital=1_000, mode="live",
                          exchange_account=_account(btc), confirm_live=True)
    settings.ORGANISM_LIVE_TRADING = False
    with pytest.raises(ValidationError) as refused:
        session_start(session=live, confirm_live=True)
    assert "mode" in refused.value.message_dict
    assert TradingSession.objects.get(pk=live.pk).status == "stopped"


def test_an_account_of_another_exchange_cannot_trade_the_instruments(btc, settings):
    settings.ORGANISM_LIVE_TRADING = True
    other = exchange_account_create(exchange=ExchangeFactory(code="kraken", name="Kraken"),
                                    label="k", api_key="a" * 20, api_secret="b" * 20)
    with pytest.raises(ValidationError) as refused:
        session_create(name="Live", instruments=[btc], capital=1_000, mode="live",
                       exchange_account=other, confirm_live=True)
    assert "exchange" in refused.value.message_dict["exchange_account"][0]


def test_switching_to_live_needs_the_same_confirmation_and_a_session_that_never_traded(btc, settings):
    settings.ORGANISM_LIVE_TRADING = True
    session = session_create(name="Paper", instruments=[btc], capital=1_000)
    account = _account(btc)
    with pytest.raises(ValidationError):
        session_mode_set(session=session, mode="live", exchange_account=account)
    live = session_mode_set(session=session, mode="live", exchange_account=account,
                            confirm_live=True)
    assert live.mode == "live" and live.source == "market"
    traded = make_session([btc], name="traded")
    step(traded)
    session_stop(session=traded)
    with pytest.raises(ValidationError) as refused:
        session_mode_set(session=traded, mode="live", exchange_account=account, confirm_live=True)
    assert "already traded" in refused.value.message_dict["mode"][0]


def test_pause_reaches_the_kernel_at_the_next_step_and_blocks_new_entries(btc):
    # given
    session = make_session([btc], candles_per_step=20)
    step(session)
    # when
    paused = session_pause(session=session)
    for _ in range(9):
        step(paused)
    # then
    paused.refresh_from_db()
    assert paused.status == "paused" and paused.pending_command == ""
    assert not OrderRecord.objects.filter(session=session, purpose="entry").exists()
    assert SessionAlert.objects.filter(session=session, breaker="operator", action="PAUSE").exists()
    refused = DecisionRecord.objects.filter(session=session, reasoning__contains="no new entries")
    assert refused.exists()


def test_the_emergency_stop_flattens_the_position_and_halts(btc):
    # given: a session holding a position
    session = make_session([btc], candles_per_step=1,
                           replay_start_ms=REPLAY_START_MS + 150 * HOUR)
    for _ in range(80):
        step(session)
        if PositionRecord.objects.filter(session=session).exclude(quantity=0).exists():
            break
    assert PositionRecord.objects.filter(session=session).exclude(quantity=0).exists()
    # when
    halted = session_emergency_stop(session=session, reason="operator panic")
    step(halted)
    step(halted)
    # then
    halted.refresh_from_db()
    assert halted.status == "halted" and halted.open_positions == 0
    assert not PositionRecord.objects.filter(session=session).exclude(quantity=0).exists()
    assert SessionAlert.objects.filter(session=session, action="HALT").exists()
    assert step(halted).next_step_at is None  # flat and halted: nothing more to do


def test_agent_weights_are_stored_and_applied_to_a_running_kernel(btc):
    # given
    session = make_session([btc], candles_per_step=2)
    step(session)
    # when
    updated = session_agents_update(session=session, weights={"momentum": 5.0},
                                    enabled=["momentum", "volatility", "regime"])
    step(updated)
    # then
    updated.refresh_from_db()
    states = {a["name"]: a for a in agent_states(updated)}
    assert updated.pending_agents is None
    assert states["momentum"]["weight"] == 5.0 and not states["sentiment"]["enabled"]
    assert states["momentum"]["current_weight"] > states["volatility"]["current_weight"]
    votes = DecisionRecord.objects.filter(session=session).order_by("-ts_ms").first()
    voters = {s["agent"] for s in votes.details["vote"]["signals"]}
    assert voters <= {"momentum", "volatility", "regime"}


def test_config_overrides_are_validated_against_the_profile(btc):
    session = make_session([btc])
    with pytest.raises(ValidationError):
        session_config_update(session=session, overrides={"max_stop_loss": 0.5})
    updated = session_config_update(session=session, overrides={"max_daily_trades": 2})
    assert updated.overrides == {"max_daily_trades": 2}


def test_a_running_session_cannot_be_deleted(btc):
    session = make_session([btc])
    with pytest.raises(ValidationError):
        session_delete(session=session)
    session_stop(session=session)
    session_delete(session=session)
    assert not TradingSession.objects.filter(pk=session.pk).exists()


HOUR = 3_600_000
