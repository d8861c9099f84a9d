"""Parity: the event-driven kernel and the vectorised backtest make the same trades.

A "strategy-only" kernel (the strategy agent's signal alone, all cash on each
entry, no trailing orders or automatic exits, fills at the next price with
the same fee and slippage) is configured purely through policies; it must
reproduce `backtests.engine.run_backtest`'s trades on real BTC 1h bars.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from backtests.engine.backtest import run_backtest
from backtests.engine.config import BacktestConfig
from backtests.engine.costs import Costs
from backtests.engine.strategies import SMACrossover
from tests.market_data import load_bars
from trading.engine.agents import StrategyAgent
from trading.engine.execution import PaperCosts
from trading.engine.instruments import Instrument
from trading.engine.kernel import (
    AllCashSizing,
    DecidedExitsOnly,
    ImmediateExecution,
    KernelConfig,
    StrategySignalDecision,
    run_event_backtest,
)
from trading.engine.risk import RiskLimits
from trading.engine.risk_profiles import MarketStats, RiskProfile

FEE = 0.0005
SLIPPAGE = 0.0005
CAPITAL = 10_000.0
PARAMS = {"fast": 10, "slow": 30}
PERMISSIVE = RiskLimits(
    max_drawdown=1.0,
    max_position_fraction=1.0,
    max_concurrent_positions=10,
    daily_loss_limit=1.0,
    max_consecutive_losses=1_000_000,
    max_daily_trades=1_000_000,
    max_slippage=1.0,
    max_exposure=1.0,
)


def strategy_only_config(bars) -> KernelConfig:
    """Configuration, not a mode: which agent decides, how much, how orders go in and out."""
    agent = StrategyAgent(SMACrossover(), PARAMS, window_bars=500)
    stats = MarketStats.from_bars(bars.slice(0, 300))
    return KernelConfig(
        session_id="parity",
        symbols=(bars.symbol,),
        timeframe=bars.timeframe,
        capital=CAPITAL,
        profile=RiskProfile.derive("aggressive", CAPITAL, stats, symbols=[bars.symbol]),
        agents=(),
        strategy_agent=agent,
        decision=StrategySignalDecision(agent.name),
        sizing=AllCashSizing(),
        execution=ImmediateExecution(),
        exits=DecidedExitsOnly(),
        risk_limits=PERMISSIVE,
        entry_protection=SLIPPAGE,  # the entry limit is exactly the slipped fill price
        fee_rate=FEE,
        instruments=(
            Instrument.from_symbol(
                bars.symbol, tick_size=Decimal("1e-8"), lot_size=Decimal("1e-10")
            ),
        ),
    )


def parity_costs() -> PaperCosts:
    """The vectorised engine's cost model in the paper executor: fee and slippage, no spread."""
    return PaperCosts(
        spread=Decimal(0),
        maker_fee=Decimal(str(FEE)),
        taker_fee=Decimal(str(FEE)),
        slippage=Decimal(str(SLIPPAGE)),
        impact=Decimal(0),
        max_participation=None,
    )


@pytest.fixture(scope="module")
def both_runs():
    bars = load_bars("BTCUSDT", "1h", start="2022-01-01", end="2022-07-03")
    costs = Costs(maker_fee=FEE, taker_fee=FEE, slippage=SLIPPAGE)
    vectorised = run_backtest(
        bars, SMACrossover(), PARAMS, BacktestConfig(initial_cash=CAPITAL, costs=costs)
    )
    event = run_event_backtest(
        {bars.symbol: bars}, strategy_only_config(bars), costs=parity_costs()
    )
    return bars, vectorised, event


def test_the_same_trades_at_the_same_bars_sides_and_prices(both_runs):
    # given the SMA crossover backtested both ways over half a year of real BTC 1h bars
    bars, vectorised, event = both_runs
    expected = vectorised.trades
    # when the kernel's round trips are placed on the bar grid
    entry_bars = np.searchsorted(bars.timestamps, [t.opened_ms for t in event.trades])
    exit_bars = np.searchsorted(bars.timestamps, [t.closed_ms for t in event.trades])
    # then every trade matches: entry and exit bar, side, size, prices, fees and P&L
    assert len(expected) > 20
    assert len(event.trades) == len(expected)
    assert list(entry_bars) == list(expected.entry_index)
    assert list(exit_bars) == list(expected.exit_index)
    assert all(t.direction == "LONG" for t in event.trades) and not expected.direction.any()
    for name, values, reference in [
        ("size", [float(t.quantity) for t in event.trades], expected.size),
        ("entry price", [float(t.entry_price) for t in event.trades], expected.entry_price),
        ("exit price", [float(t.exit_price) for t in event.trades], expected.exit_price),
        ("fees", [float(t.fees) for t in event.trades], expected.fees),
        ("net P&L", [float(t.net_pnl) for t in event.trades], expected.pnl),
    ]:
        np.testing.assert_allclose(values, reference, rtol=1e-7, atol=1e-6, err_msg=name)


def test_exits_have_the_same_reasons_and_the_last_is_closed_at_the_final_open(both_runs):
    # given a window that ends with a position still open
    bars, vectorised, event = both_runs
    reasons = {0: "signal", 2: "end"}
    # then each exit has the vectorised run's reason, and the open one closes at the last open
    expected = [reasons[r] for r in vectorised.trades.exit_reason]
    assert [t.exit_reason for t in event.trades] == expected
    assert event.trades[-1].exit_reason == "end"
    assert event.trades[-1].closed_ms == int(bars.timestamps[-1])


def test_the_equity_curves_agree_at_every_close(both_runs):
    # given both runs' account values at each bar close
    bars, vectorised, event = both_runs
    # then they agree to float precision, bar by bar, and so does the final equity
    assert len(event.equity) == len(vectorised.equity) == len(bars)
    np.testing.assert_allclose(event.equity, vectorised.equity, rtol=1e-8)
    assert event.final_equity == pytest.approx(vectorised.final_equity, rel=1e-9)


def test_a_warm_up_start_gives_the_same_trades_as_the_vectorised_start():
    # given both engines starting at bar 700, the bars before it only warming up
    bars = load_bars("BTCUSDT", "1h", start="2022-01-01", end="2022-04-01")
    costs = Costs(maker_fee=FEE, taker_fee=FEE, slippage=SLIPPAGE)
    config = BacktestConfig(initial_cash=CAPITAL, costs=costs)
    vectorised = run_backtest(bars, SMACrossover(), PARAMS, config, start=700)
    # when the kernel replays from the same bar
    event = run_event_backtest(
        {bars.symbol: bars}, strategy_only_config(bars), costs=parity_costs(), start=700
    )
    # then the trades and the equity curve are the same
    entries = np.searchsorted(bars.timestamps, [t.opened_ms for t in event.trades])
    assert list(entries) == list(vectorised.trades.entry_index)
    net = [float(t.net_pnl) for t in event.trades]
    np.testing.assert_allclose(net, vectorised.trades.pnl, rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(event.equity, vectorised.equity, rtol=1e-8)
