"""Regime detection on synthetic trends and on known real BTC episodes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.market_data import load_bars
from tests.trading.engine.agent_series import bars_from_closes, drifting_closes, zigzag_closes
from trading.engine.regime import RegimeLabel, VolatilityState, detect_regime


def test_a_clear_uptrend_is_bull():
    # given 20 days of hourly bars rising 2.5% a day with a little noise
    bars = bars_from_closes(drifting_closes(480, 2.5))
    # when
    regime = detect_regime(bars)
    # then
    assert regime.label is RegimeLabel.BULL
    assert regime.confidence > 0.7
    assert regime.features["momentum_pct_per_day"] == pytest.approx(2.5, abs=0.6)


def test_a_clear_downtrend_is_bear():
    regime = detect_regime(bars_from_closes(drifting_closes(480, -2.5)))
    assert regime.label is RegimeLabel.BEAR and regime.confidence > 0.7


def test_a_flat_market_is_sideways():
    regime = detect_regime(bars_from_closes(drifting_closes(480, 0.0, noise=0.003)))
    assert regime.label is RegimeLabel.SIDEWAYS
    assert abs(regime.features["momentum_pct_per_day"]) < 1.0


def test_the_threshold_is_one_percent_a_day():
    # given 0.7%/day: sideways by the default rule, bull with a 0.5%/day threshold
    bars = bars_from_closes(drifting_closes(480, 0.7, noise=0.0005))
    assert detect_regime(bars).label is RegimeLabel.SIDEWAYS
    assert detect_regime(bars, momentum_threshold_pct=0.5).label is RegimeLabel.BULL


def test_a_weak_trend_is_less_certain_than_a_strong_one():
    weak = detect_regime(bars_from_closes(drifting_closes(480, 1.3, noise=0.006)))
    strong = detect_regime(bars_from_closes(drifting_closes(480, 4.0, noise=0.006)))
    assert weak.label is strong.label is RegimeLabel.BULL
    assert strong.confidence > weak.confidence


def test_confidence_shrinks_with_less_than_seven_days_of_bars():
    closes = drifting_closes(480, 2.5)
    full = detect_regime(bars_from_closes(closes))
    three_days = detect_regime(bars_from_closes(closes[-72:]))
    assert three_days.features["coverage"] == pytest.approx(3 / 7, rel=0.02)
    assert three_days.confidence < full.confidence


def test_volatility_states():
    # given a steady trend, a zigzag range, a market turning wild and one going quiet
    trend = drifting_closes(480, 3.0, noise=0.002)
    wild = np.concatenate([trend[:-30], trend[-30] / 100 * drifting_closes(30, 0, noise=0.03)])
    noisy = drifting_closes(480, 0.0, noise=0.01)
    quiet = np.concatenate([noisy[:-30], np.full(30, noisy[-30]) * (1 + 1e-4 * np.arange(30))])
    # then
    assert detect_regime(bars_from_closes(trend)).volatility_state is VolatilityState.TRENDING
    zigzag = detect_regime(bars_from_closes(zigzag_closes(480, 0.01)))
    assert zigzag.volatility_state is VolatilityState.RANGING
    assert detect_regime(bars_from_closes(wild)).volatility_state is VolatilityState.VOLATILE
    assert detect_regime(bars_from_closes(quiet)).volatility_state is VolatilityState.CALM


def test_it_needs_thirty_bars():
    with pytest.raises(ValueError, match="at least 30 bars"):
        detect_regime(bars_from_closes(drifting_closes(29, 1.0)))


def test_daily_bars_use_days_not_bars():
    # given 30 daily bars rising 2%/day: 7-day momentum is 7 bars back
    regime = detect_regime(
        bars_from_closes(drifting_closes(30, 2.0, bars_per_day=1), timeframe="1d")
    )
    assert regime.label is RegimeLabel.BULL
    assert regime.features["momentum_days"] == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("end", "label"),
    [
        ("2021-10-21", RegimeLabel.BULL),  # the October 2021 run to $66k
        ("2022-06-19", RegimeLabel.BEAR),  # the June 2022 capitulation to $18k
    ],
)
def test_known_btc_episodes(end, label):
    bars = load_bars("BTCUSDT", "1h", start="2021-01-01", end=end)
    regime = detect_regime(bars.slice(len(bars) - 500, len(bars)))
    assert regime.label is label
    assert 0.5 < regime.confidence <= 1.0
    assert all(np.isfinite(v) for v in regime.features.values())
