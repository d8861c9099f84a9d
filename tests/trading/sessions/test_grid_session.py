"""A session whose parameter set gives it a grid: the grid's levels reach the dashboard."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tests.trading.sessions.conftest import make_session, step
from trading.models import OrderRecord, TradingSession
from trading.services.parameter_sets import parameter_set_create
from trading.session_charts import price_figure

GRID = {"levels_per_side": 4, "capital_fraction": 0.5, "lookback_bars": 120,
        "order_ttl_bars": 12}


def test_a_grid_session_journals_its_orders_and_shows_its_levels(btc):
    # given
    params = parameter_set_create(name="grid", values={"kernel": {"grid": GRID}})
    session = make_session([btc], parameter_set=params)
    # when
    for _ in range(8):
        step(session)
    # then
    session = TradingSession.objects.get(pk=session.pk)
    state = session.grid_state["BTC/USDT"]
    assert len(state["levels"]) == 9 and 0.005 <= state["spacing"] <= 0.05
    grid_orders = OrderRecord.objects.filter(session=session, tag__startswith="grid")
    assert grid_orders.filter(side="BUY").exists()
    shapes = price_figure(session, "BTC/USDT")["layout"]["shapes"]
    prices = {round(s["y0"], 2) for s in shapes}
    assert {round(float(level[1]), 2) for level in state["levels"] if level[0] != 0} <= prices


def test_a_bad_grid_setting_is_refused_when_the_set_is_saved(db):
    with pytest.raises(ValidationError) as refused:
        parameter_set_create(name="bad grid", values={"kernel": {"grid": {"levels_per_side": 0}}})
    assert "values.kernel.grid.grid" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        parameter_set_create(name="bad grid", values={"kernel": {"grid": {"rungs": 3}}})
    assert "values.kernel.grid.rungs" in refused.value.message_dict


def test_a_grid_on_a_symbol_the_session_does_not_trade_is_refused_at_start(btc):
    params = parameter_set_create(name="elsewhere",
                                  values={"kernel": {"grid": {"symbols": ["ETH/USDT"]}}})
    with pytest.raises(ValidationError) as refused:
        make_session([btc], parameter_set=params)
    assert "ETH/USDT" in str(refused.value)
