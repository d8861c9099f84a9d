"""The seed registry, parameter spaces, and properties every seed shares."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evolution.engine.seeds import SEED_ROLES, SEEDS, describe_seeds, get_seed, list_seeds
from tests.evolution.engine.seed_fixtures import flat_bars, random_params, real_bars
from trading.engine.strategy import ParameterError, Signals, Strategy

EXPECTED_SEEDS = {
    "ema_crossover",
    "donchian_breakout",
    "rsi_filter",
    "stochastic_oscillator",
    "sma_trend_filter",
    "atr_stop_loss",
    "ichimoku_cloud",
    "vwap_reversion",
    "volatility_scaling",
    "funding_rate_carry",
    "linear_svc_classifier",
    "pca_tree_quantile",
}
ALL_SEEDS = sorted(SEEDS)
ML_SEEDS = {"linear_svc_classifier", "pca_tree_quantile"}


def test_it_registers_the_twelve_seeds():
    # given / when
    names = set(SEEDS)

    # then
    assert names == EXPECTED_SEEDS
    assert all(SEEDS[name].name == name for name in SEEDS)


def test_it_lists_seeds_by_role():
    # when
    entries = {seed.name for seed in list_seeds("entry")}
    filters = {seed.name for seed in list_seeds("filter")}
    exits = {seed.name for seed in list_seeds("exit")}
    sizing = {seed.name for seed in list_seeds("sizing")}

    # then
    assert {"ema_crossover", "donchian_breakout", "linear_svc_classifier"} <= entries
    assert filters == {"rsi_filter", "sma_trend_filter"}
    assert "rsi_filter" in entries  # the RSI guard doubles as an oversold-dip entry
    assert exits == {"atr_stop_loss"}
    assert sizing == {"volatility_scaling"}
    assert len(list_seeds()) == 12


def test_it_rejects_an_unknown_role_and_an_unknown_name():
    with pytest.raises(ValueError, match="unknown role"):
        list_seeds("hedge")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="ema_crossover"):
        get_seed("macd_magic")


@pytest.mark.parametrize("name", ALL_SEEDS)
def test_each_seed_is_a_strategy_with_a_documented_role(name):
    # given
    seed = get_seed(name)

    # then
    assert isinstance(seed, Strategy)
    assert seed.role in SEED_ROLES and seed.roles[0] == seed.role
    assert set(seed.roles) <= set(SEED_ROLES)
    assert len(seed.description) > 200  # the docstring spells out the trading logic
    assert seed.title and seed.title != seed.name
    assert len(seed.param_space) >= 2


def test_describe_is_json_friendly_and_complete():
    # when
    described = json.loads(json.dumps(describe_seeds()))

    # then
    assert [d["name"] for d in described] == list(SEEDS)
    for entry in described:
        seed = get_seed(entry["name"])
        assert entry["description"] == seed.description
        assert entry["role"] == seed.role and entry["title"] == seed.title
        assert [p["name"] for p in entry["params"]] == seed.param_space.names()
        assert entry["defaults"] == seed.param_space.defaults()
    assert {d["name"] for d in json.loads(json.dumps(describe_seeds("exit")))} == {"atr_stop_loss"}


@pytest.mark.parametrize("name", ALL_SEEDS)
def test_defaults_lie_inside_the_parameter_space(name):
    # given
    space = get_seed(name).param_space

    # when
    validated = space.validate(space.defaults(), fill_defaults=False)

    # then
    assert validated == space.defaults()


@pytest.mark.parametrize("name", ALL_SEEDS)
def test_out_of_range_and_mistyped_params_are_rejected(name):
    # given
    seed = get_seed(name)
    bars = flat_bars(50)

    for param in seed.param_space:
        if param.kind in ("int", "float"):
            assert param.low is not None and param.high is not None
            step = 1 if param.kind == "int" else (param.high - param.low) * 0.01 or 0.01
            bad_values = [param.low - step, param.high + step, "12"]
        elif param.kind == "categorical":
            bad_values = ["not-a-choice"]
        else:
            bad_values = ["yes", 1]
        for bad in bad_values:
            # when / then
            with pytest.raises(ParameterError) as raised:
                seed.signals(bars, {param.name: bad})
            assert param.name in raised.value.errors

    with pytest.raises(ParameterError, match="unknown parameter"):
        seed.signals(bars, {"no_such_param": 1})


def test_integer_params_refuse_fractions():
    with pytest.raises(ParameterError, match="whole number"):
        get_seed("ema_crossover").signals(flat_bars(50), {"fast_period": 9.5})


@pytest.mark.parametrize("name", sorted(set(ALL_SEEDS) - ML_SEEDS))
def test_random_points_of_the_space_give_well_formed_signals(name, real_2022_head):
    # given
    seed = get_seed(name)
    rng = np.random.default_rng(11)

    for _ in range(25):
        params = random_params(seed.param_space, rng)
        # when
        signals = seed.signals(real_2022_head, params)
        # then
        assert_well_formed(signals, len(real_2022_head), seed.roles)


@pytest.mark.parametrize("name", ALL_SEEDS)
def test_flat_prices_open_no_trades(name):
    # given: a price that never moves
    seed = get_seed(name)
    bars = flat_bars(3000)

    # when
    signals = seed.signals(bars, {})

    # then
    assert not signals.entries.any()
    assert signals.short_entries is None or not signals.short_entries.any()


@pytest.fixture(scope="module")
def real_2022_head():
    return real_bars(start="2022-01-01", end="2022-04-01")


def assert_well_formed(signals: Signals, n: int, roles: tuple[str, ...]) -> None:
    assert isinstance(signals, Signals)
    for name in ("entries", "exits", "short_entries", "short_exits"):
        arr = getattr(signals, name)
        if arr is not None:
            assert arr.dtype == np.bool_ and arr.shape == (n,)
    if signals.short_entries is not None:
        assert signals.short_exits is not None
        assert not (signals.short_entries & signals.short_exits).any()
        assert not (signals.entries & signals.short_entries).any()
    assert not (signals.entries & signals.exits).any()
    if "entry" not in roles:
        assert not signals.entries.any()
    if "filter" in roles:
        assert signals.extras["allow"].dtype == np.bool_
        assert signals.extras["allow"].shape == (n,)
    if "sizing" in roles:
        assert signals.size is not None
        size = signals.size[np.isfinite(signals.size)]
        assert len(size) > 0 and (size >= 0).all() and (size <= 1.0).all()
    for stop in (signals.sl_stop, signals.tp_stop, signals.tsl_stop):
        if isinstance(stop, np.ndarray):
            known = stop[np.isfinite(stop)]
            assert len(known) > 0 and (known > 0).all()
