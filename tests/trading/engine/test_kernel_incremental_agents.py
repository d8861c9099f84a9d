"""Incremental agents give the batch agents' signals, bar by bar, on real data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.market_data import load_bars
from trading.engine.agents import (
    MarketSnapshot,
    MarketStructureAgent,
    MomentumAgent,
    RegimeAgent,
    TimeDecayAgent,
    VolatilityAgent,
    VolumeProfileAgent,
    default_agents,
)
from trading.engine.feeds import Candle
from trading.engine.kernel.incremental import FORMS, SharedSeries, incremental_form
from trading.engine.kernel.incremental.series import RollingStats, SortedWindow
from trading.engine.kernel.window import BarWindow

ALTERNATIVE_PARAMS = [
    VolatilityAgent(atr_period=10, bb_period=30, bb_std=1.5, squeeze_window=60),
    MomentumAgent(rsi_period=9, oversold=35.0, overbought=65.0, macd_fast=8, macd_slow=21,
                  divergence_lookback=20, recent_bars=5),
    VolumeProfileAgent(volume_period=10, spike_multiple=2.0, vwap_period=48, stretch_atr=2.0),
    MarketStructureAgent(swing_bars=2, lookback=100, fast_ma=10, slow_ma=40, break_bars=5),
    RegimeAgent(momentum_threshold_pct=0.5, sideways_weight=0.8),
    TimeDecayAgent(band_atr=1.0, min_stale_bars=6, half_life_bars=12, lookback=600),
]


def compare(agents, bars, start: int = 0) -> dict[str, int]:
    """Feed both forms every bar; return how many non-abstaining votes each agent cast."""
    series = SharedSeries()
    forms = [incremental_form(a, series, 500) for a in agents]
    assert all(f is not None for f in forms)
    window = BarWindow(bars.symbol, bars.timeframe, 500)
    votes = {a.name: 0 for a in agents}
    for index in range(len(bars)):
        candle = Candle.from_bars(bars, index)
        window.append(candle)
        for form in forms:
            form.update(candle)
        if index < start:
            continue
        snapshot = MarketSnapshot(window.bars())
        for agent, form in zip(agents, forms, strict=True):
            fast, batch = form.analyze(snapshot), agent.analyze(MarketSnapshot(window.bars()))
            where = f"{agent.name} at bar {index}"
            assert (fast.agent, fast.action, fast.reasoning) == (
                batch.agent, batch.action, batch.reasoning), where
            assert fast.confidence == pytest.approx(batch.confidence, abs=1e-6), where
            assert fast.trail_distance == pytest.approx(batch.trail_distance, abs=1e-6), where
            assert fast.details.keys() == batch.details.keys(), where
            for key, value in batch.details.items():
                other = fast.details[key]
                if math.isfinite(value) or math.isfinite(other):
                    assert other == pytest.approx(value, rel=1e-4, abs=1e-6), f"{where}: {key}"
            votes[agent.name] += batch.confidence > 0
    return votes


def test_every_incremental_form_matches_its_batch_agent_on_real_bars():
    # given four months of real BTC 1h bars (warm-up included) and the default agents
    bars = load_bars("BTCUSDT", "1h", start="2022-01-01", end="2022-05-01")
    agents = [a for a in default_agents() if type(a) in FORMS]
    # when both forms analyse every bar through the kernel's 500-bar window
    votes = compare(agents, bars)
    # then actions, reasoning and numbers agree everywhere, and each agent really voted
    assert len(agents) == 6
    assert all(count > 50 for count in votes.values()), votes


def test_they_match_with_other_parameters_too():
    bars = load_bars("ETHUSDT", "1h", start="2021-05-01", end="2021-07-01")
    compare(ALTERNATIVE_PARAMS, bars)


def test_parameters_a_form_cannot_reproduce_leave_the_batch_agent_in_charge():
    # given a squeeze window longer than the batch agent's ATR tail, or a short window
    long_squeeze = VolatilityAgent(squeeze_window=400)
    # then no incremental form is offered
    assert incremental_form(long_squeeze, SharedSeries(), 500) is None
    assert incremental_form(MomentumAgent(), SharedSeries(), 300) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e3, 1e3), st.just(math.nan)), min_size=1, max_size=80),
       st.integers(1, 25), st.floats(-1e3, 1e3))
def test_sorted_window_answers_like_numpy(values, size, probe):
    window = SortedWindow(size)
    for value in values:
        window.push(value)
    recent = np.array(values[-size:])
    finite = recent[np.isfinite(recent)]
    assert window.finite_count == len(finite)
    assert window.count_below(probe) == np.count_nonzero(finite < probe)
    if len(finite):
        assert window.median() == pytest.approx(float(np.median(finite)), abs=1e-12)
    else:
        assert math.isnan(window.median())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=120), st.integers(2, 40))
def test_rolling_stats_agree_with_numpy(values, size):
    stats = RollingStats(size)
    for value in values:
        stats.push(value)
    recent = np.array(values[-size:])
    assert stats.mean() == pytest.approx(float(np.mean(recent)), abs=1e-12)
    if len(recent) >= 2:
        assert stats.sample_std() == pytest.approx(float(np.std(recent, ddof=1)), abs=1e-7)
