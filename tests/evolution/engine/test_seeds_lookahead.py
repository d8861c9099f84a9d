"""Every seed passes the truncation lookahead check on real BTC 1h data (2022).

Signals are recomputed on the data cut at ~20 random bars; every value before a
cut must be identical to the value computed on the full year. The ML seeds are
also checked against rewritten futures: prices after t replaced by another path
must not change any signal at or before t.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evolution.engine.seeds import SEEDS, Seed, get_seed
from tests.evolution.engine.seed_fixtures import (
    lookahead_violations,
    random_cuts,
    random_params,
    real_bars,
    signal_arrays,
)
from trading.engine.market import Bars
from trading.engine.strategy import ParamSpace, Signals

ML_SEEDS = ("linear_svc_classifier", "pca_tree_quantile")
# parameters that make each seed trade often on real data, so the check has something to see
ACTIVE_PARAMS: dict[str, dict[str, Any]] = {
    "ema_crossover": {"allow_short": True},
    "donchian_breakout": {"allow_short": True},
    "rsi_filter": {"allow_short": True},
    "stochastic_oscillator": {"allow_short": True, "exit_rule": "any_cross"},
    "ichimoku_cloud": {"allow_short": True},
    "vwap_reversion": {"allow_short": True},
    "funding_rate_carry": {"threshold": 0.0001, "exit_ratio": 0.9},
    "linear_svc_classifier": {"allow_short": True, "refit_every": 400},
    "pca_tree_quantile": {"allow_short": True, "refit_every": 400},
}


@pytest.fixture(scope="module")
def btc_2022() -> Bars:
    return real_bars(start="2022-01-01", end="2023-01-01")


class PeekingSeed(Seed):
    """Buys when the NEXT close is higher: the lookahead the check must catch."""

    name = "peeking"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace()

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        entries = np.zeros(len(bars), dtype=bool)
        entries[:-1] = bars.close[1:] > bars.close[:-1]
        return Signals(entries=entries, exits=~entries)


def test_the_check_catches_a_seed_that_peeks_at_the_next_bar(btc_2022):
    # when
    problems = lookahead_violations(PeekingSeed(), btc_2022, {}, [500, 900])

    # then
    assert any("entries" in problem for problem in problems)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_signals_never_change_when_later_bars_are_removed(name, btc_2022):
    # given
    seed = get_seed(name)
    params = ACTIVE_PARAMS.get(name, {})
    cuts = random_cuts(len(btc_2022), 20, low=200)

    # when
    problems = lookahead_violations(seed, btc_2022, params, cuts)

    # then
    assert problems == []
    full = seed.signals(btc_2022, params)
    if seed.role == "entry":
        assert full.entries.sum() >= 5, "the check needs trades to be meaningful"


@pytest.mark.parametrize("name", sorted(set(SEEDS) - set(ML_SEEDS)))
def test_random_parameters_pass_the_lookahead_check(name, btc_2022):
    # given: a few random genomes on a quarter of data
    seed = get_seed(name)
    bars = btc_2022.slice(0, 2200)
    rng = np.random.default_rng(5)

    for _ in range(4):
        params = random_params(seed.param_space, rng)
        # when
        problems = lookahead_violations(seed, bars, params, random_cuts(len(bars), 5, low=50))
        # then
        assert problems == [], params


@pytest.mark.parametrize("name", ML_SEEDS)
def test_ml_signals_ignore_a_rewritten_future(name, btc_2022):
    # given: the same history up to bar t, then a different future
    seed = get_seed(name)
    params = ACTIVE_PARAMS[name]
    bars = btc_2022.slice(0, 6000)
    rng = np.random.default_rng(3)
    original = signal_arrays(seed.signals(bars, params))

    for t in (3200, 4700):
        # when
        rewritten = seed.signals(rewrite_future(bars, t, rng), params)
        # then
        for field, values in signal_arrays(rewritten).items():
            if isinstance(values, np.ndarray):
                before = np.asarray(original[field])[: t + 1]
                assert np.array_equal(values[: t + 1], before, equal_nan=True), field
        later = np.asarray(original["entries"])[t + 1 :]
        changed = not np.array_equal(rewritten.entries[t + 1 :], later)
        assert changed, "the rewritten future should change later signals"


def rewrite_future(bars: Bars, t: int, rng: np.random.Generator) -> Bars:
    """`bars` with every bar after t replaced by a random walk starting at close[t]."""
    n = len(bars)
    steps = rng.normal(0.0, 0.01, n - t - 1)
    close = bars.close.copy()
    close[t + 1 :] = close[t] * np.exp(np.cumsum(steps))
    open_ = bars.open.copy()
    open_[t + 1 :] = close[t:-1]
    high, low = bars.high.copy(), bars.low.copy()
    high[t + 1 :] = np.maximum(open_[t + 1 :], close[t + 1 :]) * 1.002
    low[t + 1 :] = np.minimum(open_[t + 1 :], close[t + 1 :]) * 0.998
    volume = bars.volume.copy()
    volume[t + 1 :] = rng.uniform(100, 2000, n - t - 1)
    return Bars.from_arrays(
        bars.timestamps, open_, high, low, close, volume, timeframe=bars.timeframe
    )
