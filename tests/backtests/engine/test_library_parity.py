"""A long-only SMA crossover against backtesting.py (exactly) and backtrader, on real BTC 1h.

Conventions aligned as shared/data/README.md describes: the signal is taken on
a bar's close and filled at the next bar's open, the commission is charged on
entry and exit value, slippage is off, positions still open are closed at the
last bar's open. Both libraries replay our crossover signals, so what is
compared is the engine: fills, sizing, fees, P&L and equity.

Sizing commits 99% of the cash. (At 100%, vectorbt treats the few micro-dollars
left after an all-in buy as zero (its is-close-to-zero rule), which can move a
size by one satoshi against backtesting.py; at 99% nothing is rounded away.)
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from backtests.engine.backtest import run_backtest
from backtests.engine.config import BacktestConfig
from backtests.engine.costs import Costs
from backtests.engine.sizing import Sizing
from backtests.engine.strategies import SMACrossover

FEE = 0.001
FRACTION = 0.99
SATOSHI = 1e-8
PARAMS = {"fast": 10, "slow": 30}


def _frame(bars, columns: tuple[str, ...]) -> pd.DataFrame:
    values = [bars.open, bars.high, bars.low, bars.close, bars.volume]
    return pd.DataFrame(dict(zip(columns, values, strict=True)),
                        index=pd.to_datetime(bars.timestamps, unit="ms"))


@pytest.fixture(scope="module")
def signals(btc_2022):
    return SMACrossover().signals(btc_2022, PARAMS)


def _ours(bars, granularity: float | None):
    config = BacktestConfig(
        costs=Costs(maker_fee=0.0, taker_fee=FEE, slippage=0.0),
        sizing=Sizing.fraction(FRACTION, granularity=granularity),
    )
    return run_backtest(bars, SMACrossover(), PARAMS, config)


def test_trades_and_equity_equal_backtesting_py_fractional_backtest(btc_2022, signals):
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest

    entries, exits = signals.entries.astype(float), signals.exits.astype(float)

    class Replay(Strategy):
        def init(self):
            self.entry = self.I(lambda: entries, name="entry", plot=False)
            self.exit = self.I(lambda: exits, name="exit", plot=False)

        def next(self):
            if self.entry[-1] and not self.position:
                self.buy(size=FRACTION)
            elif self.exit[-1] and self.position:
                self.position.close()

    # given backtesting.py trading whole satoshis on the same signals
    frame = _frame(btc_2022, ("Open", "High", "Low", "Close", "Volume"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = FractionalBacktest(frame, Replay, cash=10_000, commission=FEE,
                                   finalize_trades=True, fractional_unit=SATOSHI).run()
    theirs = stats["_trades"]
    # when our engine runs with sizes rounded down to a satoshi
    ours = _ours(btc_2022, SATOSHI)
    trades = ours.trades
    # then every trade is the same trade, and the equity curves coincide
    assert len(trades) == len(theirs) > 100
    np.testing.assert_array_equal(trades.entry_index, theirs["EntryBar"].to_numpy())
    np.testing.assert_array_equal(trades.exit_index, theirs["ExitBar"].to_numpy())
    np.testing.assert_array_equal(trades.size, theirs["Size"].to_numpy())
    np.testing.assert_allclose(trades.entry_price, theirs["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(trades.exit_price, theirs["ExitPrice"], rtol=1e-12)
    np.testing.assert_allclose(trades.pnl, theirs["PnL"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(trades.fees, theirs["Commission"], rtol=1e-9)
    assert ours.final_equity == pytest.approx(stats["Equity Final [$]"], rel=1e-12)
    np.testing.assert_allclose(ours.equity, stats["_equity_curve"]["Equity"], rtol=1e-12)


def test_final_equity_and_trade_count_match_backtrader(btc_2022, signals):
    import backtrader as bt

    n = len(btc_2022)

    class Replay(bt.Strategy):
        def __init__(self):
            self.closed_trades = 0

        def next_open(self):
            i = len(self.data) - 1  # the bar whose open we are at
            entry = i > 0 and signals.entries[i - 1] and not signals.exits[i - 1]
            leave = i > 0 and signals.exits[i - 1] and not signals.entries[i - 1]
            if i == n - 1:
                entry, leave = False, True
            if not self.position and entry:
                price = self.data.open[0]
                self.buy(size=self.broker.getcash() * FRACTION / (price * (1 + FEE)))
            elif self.position and leave:
                self.close()

        def notify_trade(self, trade):
            self.closed_trades += trade.isclosed

    # given backtrader filling at the open of the bar after each signal (cheat-on-open)
    cerebro = bt.Cerebro(cheat_on_open=True, stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=_frame(
        btc_2022, ("open", "high", "low", "close", "volume"))))
    cerebro.addstrategy(Replay)
    cerebro.broker.set_coo(True)
    cerebro.broker.setcash(10_000.0)
    cerebro.broker.setcommission(commission=FEE)
    strategy = cerebro.run()[0]
    # when our engine runs the same signals with unrounded sizes
    ours = _ours(btc_2022, None)
    # then the number of trades and the final equity agree
    assert strategy.closed_trades == len(ours.trades)
    assert cerebro.broker.getvalue() == pytest.approx(ours.final_equity, rel=1e-9)
