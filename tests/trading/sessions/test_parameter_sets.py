"""Versioned parameter sets: validated values, immutable once a session used them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tests.trading.sessions.conftest import make_session
from trading.models import ParameterSet
from trading.services.parameter_sets import parameter_set_create, parameter_set_revise

VALUES = {
    "risk": {"max_drawdown": 0.12, "min_buy_confidence": 0.55},
    "agents": {"momentum": {"rsi_period": 21}},
    "weights": {"momentum": 2.0},
    "kernel": {"execution": "immediate", "entry_ttl_bars": 2},
    "costs": {"taker_fee": "0.0008"},
}


def test_a_new_name_starts_at_version_one(db):
    created = parameter_set_create(name="swing", values=VALUES, tags=["btc", "swing", "btc"])
    assert created.version == 1 and created.parent is None
    assert created.tags == ["btc", "swing"]


@pytest.mark.parametrize("values, key", [
    ({"risk": {"max_drawdown": 2}}, "values.risk.max_drawdown"),
    ({"risk": {"no_such_field": 1}}, "values.risk.no_such_field"),
    ({"agents": {"momentum": {"rsi_period": -3}}}, "values.agents.momentum.rsi_period"),
    ({"agents": {"oracle": {}}}, "values.agents.oracle"),
    ({"weights": {"momentum": "heavy"}}, "values.weights.momentum"),
    ({"kernel": {"execution": "teleport"}}, "values.kernel.execution"),
    ({"kernel": {"window_bars": 10}}, "values.kernel.window_bars"),
    ({"costs": {"taker_fee": "-1"}}, "values.costs.taker_fee"),
    ({"mystery": {}}, "values.mystery"),
])
def test_bad_values_are_refused_naming_the_field(db, values, key):
    with pytest.raises(ValidationError) as refused:
        parameter_set_create(name="bad", values=values)
    assert key in refused.value.message_dict
    assert not ParameterSet.objects.exists()


def test_an_unused_version_is_edited_in_place(db):
    created = parameter_set_create(name="draft", values=VALUES)
    revised = parameter_set_revise(parameter_set=created, notes="tighter",
                                   values={"risk": {"max_drawdown": 0.1}})
    assert revised.pk == created.pk and revised.version == 1
    assert revised.values == {"risk": {"max_drawdown": 0.1}} and revised.notes == "tighter"


def test_a_used_version_never_changes_editing_creates_the_next_version(btc):
    # given: a session ran on version 1
    used = parameter_set_create(name="live-ish", values=VALUES)
    session = make_session([btc], parameter_set=used)
    # when
    revised = parameter_set_revise(parameter_set=used, values={"risk": {"max_drawdown": 0.2}})
    # then
    used.refresh_from_db()
    assert revised.pk != used.pk and revised.version == 2 and revised.parent_id == used.pk
    assert used.values == VALUES
    assert session.parameter_set_id == used.pk
    assert session.config["parameter_set"] == {"id": used.pk, "name": "live-ish", "version": 1}


def test_a_session_runs_with_its_parameter_set(btc):
    # given
    params = parameter_set_create(name="p", values=VALUES)
    # when
    session = make_session([btc], parameter_set=params)
    # then
    config = session.config
    assert config["profile"]["max_drawdown"] == 0.12
    assert config["profile"]["min_buy_confidence"] == 0.55
    assert config["kernel"]["execution"] == "immediate" and config["kernel"]["entry_ttl_bars"] == 2
    assert config["agents"] == {"momentum": {"rsi_period": 21}}
    assert config["costs"] == {"taker_fee": "0.0008"}
