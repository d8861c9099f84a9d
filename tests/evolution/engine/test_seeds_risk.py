"""Risk seeds on synthetic series: ATR stop-loss (exit) and volatility scaling (sizing)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evolution.engine.seeds import get_seed
from tests.evolution.engine.seed_fixtures import bars_from_closes
from trading.engine.market import Bars


def ranged_bars(half_ranges: list[float], price: float = 100.0) -> Bars:
    """Bars closing at `price` every bar, each spanning +-half_range around it."""
    n = len(half_ranges)
    stamps = np.arange(n, dtype=np.int64) * 3_600_000
    close = np.full(n, price)
    spread = np.asarray(half_ranges)
    return Bars.from_arrays(stamps, close, close + spread, close - spread, close, np.ones(n))


def test_atr_stop_sits_a_multiple_of_the_true_range_below_entry():
    # given: every bar spans 2.0 around a close of 100 -> ATR = 2.0
    bars = ranged_bars([1.0] * 60)

    # when
    signals = get_seed("atr_stop_loss").signals(bars, {"atr_period": 14, "stop_mult": 2.5})

    # then: 2.5 ATR / close = 5% of the entry price
    assert isinstance(signals.sl_stop, np.ndarray)
    assert np.isnan(signals.sl_stop[:14]).all()  # no stop while ATR warms up
    assert signals.sl_stop[14:] == pytest.approx(0.05)
    assert signals.tsl_stop is None and signals.tp_stop is None
    assert not signals.entries.any() and not signals.exits.any()


def test_atr_stop_widens_when_the_market_gets_wilder():
    # given: quiet bars, then bars four times as wide
    bars = ranged_bars([0.5] * 60 + [2.0] * 60)

    # when
    stop = get_seed("atr_stop_loss").signals(bars, {"stop_mult": 2.0}).sl_stop

    # then
    assert isinstance(stop, np.ndarray)
    assert stop[59] == pytest.approx(0.02)
    assert stop[-1] == pytest.approx(0.08, rel=0.01)
    assert (np.diff(stop[60:]) >= 0).all()


def test_trailing_stop_and_take_profit_are_set_when_asked():
    # given
    bars = ranged_bars([1.0] * 60)

    # when
    signals = get_seed("atr_stop_loss").signals(
        bars, {"stop_mult": 1.5, "stop_type": "trailing", "take_profit_mult": 4.0}
    )

    # then
    assert signals.sl_stop is None
    assert isinstance(signals.tsl_stop, np.ndarray) and isinstance(signals.tp_stop, np.ndarray)
    assert signals.tsl_stop[-1] == pytest.approx(0.03)
    assert signals.tp_stop[-1] == pytest.approx(0.08)


def test_volatility_scaling_sizes_to_the_target():
    # given: returns alternating +-1% -> a known realised volatility
    steps = np.where(np.arange(400) % 2 == 0, 1.01, 1 / 1.01)
    bars = bars_from_closes(100.0 * np.cumprod(steps))
    log_returns = np.diff(np.log(bars.close))
    expected_vol = np.std(log_returns[-48:], ddof=1) * math.sqrt(8760)

    # when
    signals = get_seed("volatility_scaling").signals(
        bars, {"vol_window": 48, "target_vol": 0.3, "max_size": 1.0}
    )

    # then
    assert signals.size is not None
    assert np.isnan(signals.size[:48]).all()  # engine default while the window fills
    assert signals.size[-1] == pytest.approx(0.3 / expected_vol)
    assert 0 < signals.size[-1] < 1.0


def test_volatility_scaling_shrinks_in_turbulence_and_caps_in_calm():
    # given: calm (0.1% moves), then turbulent (3% moves)
    calm = np.where(np.arange(200) % 2 == 0, 1.001, 1 / 1.001)
    wild = np.where(np.arange(200) % 2 == 0, 1.03, 1 / 1.03)
    bars = bars_from_closes(100.0 * np.cumprod(np.concatenate((calm, wild))))

    # when
    size = (
        get_seed("volatility_scaling")
        .signals(bars, {"vol_window": 48, "target_vol": 0.5, "max_size": 0.8})
        .size
    )

    # then
    assert size is not None
    assert size[150] == pytest.approx(0.8)  # the cap: calm markets cannot lever up
    assert size[-1] < 0.2


def test_flat_prices_get_the_largest_size():
    # given
    bars = bars_from_closes([100.0] * 100)

    # when
    size = get_seed("volatility_scaling").signals(bars, {"vol_window": 24, "max_size": 0.6}).size

    # then
    assert size is not None
    assert (size[25:] == 0.6).all()
