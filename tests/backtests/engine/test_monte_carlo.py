"""Monte Carlo resampling of trade sequences: determinism and known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backtests.engine.backtest import run_backtest
from backtests.engine.monte_carlo import monte_carlo
from backtests.engine.strategies import SMACrossover


def test_identical_trades_give_one_certain_outcome():
    # given ten trades of +1% each
    result = monte_carlo([0.01] * 10, n_paths=500)
    # then every path ends at 1.01^10 with no drawdown and no chance of loss
    assert result.median_return == pytest.approx(1.01**10 - 1)
    assert result.return_p5 == pytest.approx(result.return_p95)
    assert result.probability_of_loss == 0.0
    assert result.expected_max_drawdown == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(result.fan[:, -1], 1.01**10)


def test_a_known_two_outcome_bet():
    # given trades that win 10% or lose 10% with equal frequency, resampled one at a time
    result = monte_carlo([0.1, -0.1], n_paths=20_000, n_trades=1, seed=7)
    # then half the paths lose, and a loss is a 10% drawdown
    assert result.probability_of_loss == pytest.approx(0.5, abs=0.02)
    assert result.expected_max_drawdown == pytest.approx(0.05, abs=0.002)
    assert result.max_drawdown_p95 == pytest.approx(0.1)


def test_a_seed_fixes_the_paths_and_shuffling_keeps_the_final_return():
    returns = np.random.default_rng(0).normal(0.002, 0.02, 200)
    a = monte_carlo(returns, n_paths=2_000, seed=11)
    b = monte_carlo(returns, n_paths=2_000, seed=11)
    np.testing.assert_array_equal(a.final_returns, b.final_returns)
    assert monte_carlo(returns, n_paths=2_000, seed=12).median_return != a.median_return
    shuffled = monte_carlo(returns, n_paths=300, method="shuffle")
    np.testing.assert_allclose(shuffled.final_returns, np.prod(1 + returns) - 1, rtol=1e-9)
    assert shuffled.max_drawdowns.std() > 0


def test_bands_are_ordered_and_the_fan_starts_at_one(btc_2022):
    # given the per-trade equity returns of a real backtest
    result = run_backtest(btc_2022, SMACrossover(), {"fast": 10, "slow": 30})
    mc = monte_carlo(result.trade_equity_returns(), n_paths=3_000, seed=1)
    # then the 5% band is below the median, below the 95% band, and the fan rows are ordered
    assert mc.return_p5 < mc.median_return < mc.return_p95
    assert mc.n_trades == len(result.trades)
    np.testing.assert_array_equal(mc.fan[:, 0], 1.0)
    assert np.all(np.diff(mc.fan, axis=0) >= 0)
    assert 0 < mc.expected_max_drawdown <= mc.max_drawdown_p95 < 1
    data = mc.to_dict()
    json.dumps(data, allow_nan=False)
    assert set(data["fan"]) == {"p5", "p25", "p50", "p75", "p95"}


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError):
        monte_carlo([])
    with pytest.raises(ValueError):
        monte_carlo([0.1, -1.0])
    with pytest.raises(ValueError):
        monte_carlo([0.1, 0.2], method="shuffle", n_trades=5)
