"""The vectorbt engine and an independent plain loop agree exactly (long only, real data)."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.engine.backtest import run_backtest
from backtests.engine.config import BacktestConfig
from backtests.engine.costs import Costs
from backtests.engine.reference import simulate_long_only
from backtests.engine.sizing import Sizing
from backtests.engine.strategies import RSIMeanReversion, SMACrossover


@pytest.mark.parametrize(
    ("strategy", "params", "fraction"),
    [
        (SMACrossover(), {"fast": 10, "slow": 30}, 1.0),
        (SMACrossover(), {"fast": 24, "slow": 100}, 0.6),
        (RSIMeanReversion(), {"period": 14, "oversold": 30.0, "overbought": 70.0}, 1.0),
    ],
)
def test_trades_and_equity_match_the_reference_loop(btc_2022, strategy, params, fraction):
    # given a long-only config with default costs
    config = BacktestConfig(sizing=Sizing.fraction(fraction))
    signals = strategy.signals(btc_2022, params)
    # when simulated by the engine and by the reference loop
    engine = run_backtest(btc_2022, strategy, params, config)
    reference = simulate_long_only(
        btc_2022.open, btc_2022.close, signals.entries, signals.exits,
        fee=config.costs.taker_fee, slippage=config.costs.slippage, fraction=fraction,
    )
    # then every trade and the whole equity curve agree
    trades = engine.trades
    assert len(trades) == len(reference.pnl) > 10
    np.testing.assert_array_equal(trades.entry_index, reference.entry_index)
    np.testing.assert_array_equal(trades.exit_index, reference.exit_index)
    np.testing.assert_allclose(trades.size, reference.size, rtol=1e-12)
    np.testing.assert_allclose(trades.entry_price, reference.entry_price, rtol=1e-14)
    np.testing.assert_allclose(trades.exit_price, reference.exit_price, rtol=1e-14)
    np.testing.assert_allclose(trades.pnl, reference.pnl, rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(engine.equity, reference.equity, rtol=1e-11)


def test_costs_cost_money(btc_2022):
    # given the same trades with and without costs
    params = {"fast": 10, "slow": 30}
    free = Costs(maker_fee=0.0, taker_fee=0.0, slippage=0.0)
    gross = run_backtest(btc_2022, SMACrossover(), params, BacktestConfig(costs=free))
    net = run_backtest(btc_2022, SMACrossover(), params, BacktestConfig())
    # then the costs lower the result and are reported
    assert net.final_equity < gross.final_equity
    assert gross.stats["costs"]["total_fees"] == 0
    assert net.stats["costs"]["total_fees"] > 0 and net.stats["costs"]["slippage_paid"] > 0
