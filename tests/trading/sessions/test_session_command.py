"""`manage.py trading_session_run`: a session's loop in the foreground."""

from __future__ import annotations

import io

from django.core.management import call_command

from tests.trading.sessions.conftest import make_session
from trading.models import DecisionRecord, TradingSession


def test_the_command_runs_steps_back_to_back(btc):
    # given
    session = make_session([btc], candles_per_step=10)
    out = io.StringIO()
    # when
    call_command("trading_session_run", str(session.pk), "--steps", "3", stdout=out)
    # then
    assert "3 steps, 30 candles" in out.getvalue()
    assert TradingSession.objects.get(pk=session.pk).steps == 3
    assert DecisionRecord.objects.filter(session=session).count() == 30
