"""The vectorised engine's fill, cost, stop and sizing rules on hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.engine.backtest import run_backtest
from backtests.engine.config import BacktestConfig
from backtests.engine.costs import Costs
from backtests.engine.sizing import Sizing
from tests.backtests.engine.scripted import ScriptedStrategy, bars_from_prices, flags

FEE, SLIP = 0.001, 0.002
COSTS = Costs(maker_fee=0.0, taker_fee=FEE, slippage=SLIP)


def config(**kwargs) -> BacktestConfig:
    return BacktestConfig(initial_cash=10_000.0, costs=COSTS, **kwargs)


def test_a_signal_fills_at_the_next_open_with_fee_and_slippage():
    # given a buy signal on bar 0 and a sell signal on bar 2
    bars = bars_from_prices([100, 100, 110, 120, 130, 140])
    strategy = ScriptedStrategy(entries=flags(6, 0), exits=flags(6, 2))
    # when backtested
    result = run_backtest(bars, strategy, config=config())
    # then the buy fills at bar 1's open plus slippage, the sell at bar 3's open minus it
    size = 10_000 / (1 + FEE) / (100 * (1 + SLIP))
    proceeds = size * 120 * (1 - SLIP) * (1 - FEE)
    trades = result.trades
    assert len(trades) == 1
    assert (trades.entry_index[0], trades.exit_index[0]) == (1, 3)
    assert trades.entry_price[0] == pytest.approx(100 * (1 + SLIP), rel=1e-12)
    assert trades.exit_price[0] == pytest.approx(120 * (1 - SLIP), rel=1e-12)
    assert trades.size[0] == pytest.approx(size, rel=1e-12)
    assert trades.pnl[0] == pytest.approx(proceeds - 10_000, rel=1e-10)
    assert trades.slippage[0] == pytest.approx(size * (100 + 120) * SLIP, rel=1e-10)
    assert trades.fees[0] == pytest.approx(10_000 - 10_000 / (1 + FEE) + size * 119.76 * FEE,
                                           rel=1e-10)
    np.testing.assert_allclose(
        result.equity, [10_000, size * 110, size * 120, proceeds, proceeds, proceeds], rtol=1e-12)
    assert result.stats["trades"]["trades"] == 1
    assert result.trades.to_records()[0]["exit_reason"] == "signal"


def test_a_signal_on_the_last_bar_is_never_traded():
    # given an entry signal on the final bar only
    bars = bars_from_prices([100, 101, 102, 103])
    strategy = ScriptedStrategy(entries=flags(4, 3), exits=flags(4))
    # when backtested
    result = run_backtest(bars, strategy, config=config())
    # then nothing trades and the equity stays flat
    assert len(result.trades) == 0
    np.testing.assert_array_equal(result.equity, 10_000.0)


def test_an_open_position_is_closed_at_the_final_open_or_marked_at_the_last_close():
    # given an entry and no exit
    bars = bars_from_prices([100, 100, 105, 110], close=[100, 104, 108, 112])
    strategy = ScriptedStrategy(entries=flags(4, 0), exits=flags(4))
    # when backtested with and without the forced close
    closed = run_backtest(bars, strategy, config=config())
    held = run_backtest(bars, strategy, config=config(close_at_end=False))
    # then the forced close sells at bar 3's open; otherwise the trade stays open at the close
    assert closed.trades.exit_index[0] == 3
    assert closed.trades.exit_price[0] == pytest.approx(110 * (1 - SLIP), rel=1e-12)
    assert closed.trades.to_records()[0]["exit_reason"] == "end"
    assert held.trades.is_open[0]
    assert held.trades.exit_price[0] == 112
    assert held.trades.exit_fees[0] == 0
    assert held.trades.to_records()[0]["status"] == "open"
    assert held.stats["trades"]["trades"] == 0 and held.stats["trades"]["open_trades"] == 1


def test_a_short_earns_when_the_price_falls():
    # given a short signal before a fall, shorts allowed
    bars = bars_from_prices([100, 100, 90, 80, 80])
    strategy = ScriptedStrategy(entries=flags(5), exits=flags(5),
                                short_entries=flags(5, 0), short_exits=flags(5, 2))
    # when backtested
    result = run_backtest(bars, strategy, config=config(allow_short=True))
    # then the short sells at bar 1's open and covers at bar 3's open
    sell = 100 * (1 - SLIP)
    size = 10_000 / (sell * (1 + FEE))
    cover = 80 * (1 + SLIP)
    pnl = size * (sell - cover) - size * sell * FEE - size * cover * FEE
    trades = result.trades
    assert trades.direction.tolist() == [1]
    assert trades.size[0] == pytest.approx(size, rel=1e-12)
    assert trades.pnl[0] == pytest.approx(pnl, rel=1e-10)
    assert result.final_equity == pytest.approx(10_000 + pnl, rel=1e-12)
    assert result.position[1] == pytest.approx(-size, rel=1e-12)


def test_a_short_entry_while_long_reverses_on_the_same_bar():
    # given a long entry, then a short entry two bars later
    bars = bars_from_prices([100, 100, 104, 108, 106, 103, 100])
    strategy = ScriptedStrategy(entries=flags(7, 0), exits=flags(7),
                                short_entries=flags(7, 2), short_exits=flags(7))
    # when backtested with shorts allowed
    result = run_backtest(bars, strategy, config=config(allow_short=True))
    # then the long closes and the short opens at bar 3's open, sized on the released cash
    trades = result.trades
    assert trades.direction.tolist() == [0, 1]
    assert (trades.exit_index[0], trades.entry_index[1]) == (3, 3)
    cash = trades.size[0] * 108 * (1 - SLIP) * (1 - FEE)
    short_price = 108 * (1 - SLIP)
    assert trades.size[1] == pytest.approx(cash / (short_price * (1 + FEE)), rel=1e-10)
    assert trades.to_records()[1]["exit_reason"] == "end"


def test_short_signals_are_ignored_unless_shorts_are_allowed():
    bars = bars_from_prices([100, 100, 90, 80, 80])
    strategy = ScriptedStrategy(entries=flags(5), exits=flags(5),
                                short_entries=flags(5, 0), short_exits=flags(5, 2))
    result = run_backtest(bars, strategy, config=config())
    assert len(result.trades) == 0


def test_long_and_short_entries_on_one_bar_cancel():
    bars = bars_from_prices([100, 100, 90, 80, 80])
    strategy = ScriptedStrategy(entries=flags(5, 0), exits=flags(5),
                                short_entries=flags(5, 0), short_exits=flags(5))
    result = run_backtest(bars, strategy, config=config(allow_short=True))
    assert len(result.trades) == 0


def test_no_pyramiding_and_exits_while_flat_do_nothing():
    # given an exit before any entry and repeated entries while long
    bars = bars_from_prices([100, 101, 102, 103, 104, 105, 106])
    strategy = ScriptedStrategy(entries=flags(7, 1, 2, 3), exits=flags(7, 0, 4))
    # when backtested
    result = run_backtest(bars, strategy, config=config())
    # then there is exactly one trade from bar 2 to bar 5
    assert len(result.trades) == 1
    assert (result.trades.entry_index[0], result.trades.exit_index[0]) == (2, 5)


def _stop_bars(open_, high, low, close):
    return bars_from_prices(open_, close=close, high=high, low=low)


def test_a_stop_loss_exits_at_the_stop_level_inside_a_bar():
    # given a 5% stop and a bar whose low crosses it without opening below it
    bars = _stop_bars([100, 100, 99, 97, 96], [100, 101, 99, 97, 96], [100, 99, 94, 96, 95],
                      [100, 99, 96, 96, 96])
    strategy = ScriptedStrategy(entries=flags(5, 0), exits=flags(5), sl_stop=0.05)
    # when backtested
    result = run_backtest(bars, strategy, config=config())
    # then it exits on bar 2 at 95% of the fill price, minus slippage
    stop = 100 * (1 + SLIP) * 0.95
    assert result.trades.exit_index[0] == 2
    assert result.trades.exit_price[0] == pytest.approx(stop * (1 - SLIP), rel=1e-12)
    assert result.trades.to_records()[0]["exit_reason"] == "stop"


def test_a_stop_loss_gapped_through_exits_at_the_open():
    bars = _stop_bars([100, 100, 90, 91, 92], [100, 101, 92, 92, 93], [100, 99, 89, 90, 91],
                      [100, 99, 91, 92, 92])
    result = run_backtest(bars, ScriptedStrategy(entries=flags(5, 0), exits=flags(5)),
                          config=config(sl_stop=0.05))
    assert result.trades.exit_index[0] == 2
    assert result.trades.exit_price[0] == pytest.approx(90 * (1 - SLIP), rel=1e-12)


def test_take_profit_and_trailing_stop():
    # given a rise to 120 then a pull-back to 107
    bars = _stop_bars([100, 100, 110, 115, 108], [100, 102, 120, 116, 109],
                      [100, 99, 109, 107, 107], [100, 101, 115, 108, 108])
    strategy = ScriptedStrategy(entries=flags(5, 0), exits=flags(5))
    # when backtested with a 10% take-profit, and separately a 10% trailing stop
    take = run_backtest(bars, strategy, config=config(tp_stop=0.10))
    trail = run_backtest(bars, strategy, config=config(tsl_stop=0.10))
    # then the take-profit fills at 110% of the entry on bar 2, the trail at 90% of 120 on bar 3
    assert take.trades.exit_index[0] == 2
    assert take.trades.exit_price[0] == pytest.approx(100.2 * 1.1 * (1 - SLIP), rel=1e-12)
    assert trail.trades.exit_index[0] == 3
    assert trail.trades.exit_price[0] == pytest.approx(108 * (1 - SLIP), rel=1e-12)


@pytest.mark.parametrize(
    ("sizing", "expected_size"),
    [
        (Sizing.units(2.0), 2.0),
        (Sizing.cash(1_000.0), 1_000.0 / 100),
        (Sizing.fraction(0.5), 5_000 / (1 + FEE) / (100 * (1 + SLIP))),
    ],
)
def test_sizing_modes(sizing, expected_size):
    bars = bars_from_prices([100, 100, 110, 120])
    strategy = ScriptedStrategy(entries=flags(4, 0), exits=flags(4, 1))
    result = run_backtest(bars, strategy, config=config(sizing=sizing))
    assert result.trades.size[0] == pytest.approx(expected_size, rel=1e-12)


def test_per_bar_sizes_from_the_signals_apply_to_their_fill():
    bars = bars_from_prices([100, 100, 110, 120, 120, 120])
    size = np.full(6, np.nan)
    size[2] = 0.25
    strategy = ScriptedStrategy(entries=flags(6, 0, 2), exits=flags(6, 1), size=size)
    result = run_backtest(bars, strategy, config=config())
    spent = result.trades.size * result.trades.entry_price + result.trades.entry_fees
    equity_before_second = result.equity[2]
    assert spent[0] == pytest.approx(10_000, rel=1e-12)
    assert spent[1] == pytest.approx(0.25 * equity_before_second, rel=1e-12)


def test_granularity_rounds_entry_sizes_down():
    bars = bars_from_prices([100, 100, 110, 120])
    result = run_backtest(bars, ScriptedStrategy(entries=flags(4, 0), exits=flags(4, 1)),
                          config=config(sizing=Sizing.fraction(1.0, granularity=0.01)))
    # 10,000 / 1.001 / 100.2 = 99.7007 units, rounded down to a multiple of 0.01
    assert result.trades.size[0] == pytest.approx(99.70, rel=1e-12)


def test_start_lets_indicators_warm_up_and_trades_from_there():
    # given signals on bars 0 and 2, and the account starting at bar 3
    bars = bars_from_prices([100, 101, 102, 103, 104, 105])
    strategy = ScriptedStrategy(entries=flags(6, 0, 2), exits=flags(6, 4))
    # when backtested from bar 3
    result = run_backtest(bars, strategy, config=config(), start=3)
    # then the bar-2 signal fills at bar 3's open and the curves cover bars 3..5
    assert len(result.equity) == 3
    assert result.timestamps[0] == bars.timestamps[3]
    assert (result.trades.entry_index[0], result.trades.exit_index[0]) == (3, 5)


def test_conflicting_stop_definitions_are_rejected():
    bars = bars_from_prices([100, 100, 110, 120])
    strategy = ScriptedStrategy(entries=flags(4, 0), exits=flags(4), sl_stop=0.05, tsl_stop=0.1)
    with pytest.raises(ValueError, match="sl_stop and tsl_stop"):
        run_backtest(bars, strategy, config=config())
    with pytest.raises(ValueError, match="granularity"):
        run_backtest(bars, ScriptedStrategy(entries=flags(4, 0), exits=flags(4)),
                     config=config(sl_stop=0.05, sizing=Sizing.fraction(1, granularity=0.1)))


def test_results_are_json_ready_and_trade_returns_are_on_equity():
    bars = bars_from_prices([100, 100, 110, 120, 130, 140])
    result = run_backtest(bars, ScriptedStrategy(entries=flags(6, 0), exits=flags(6, 2)),
                          config=config(sizing=Sizing.fraction(0.5)))
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert '"exit_reason": "signal"' in text
    equity_return = result.trade_equity_returns()[0]
    assert equity_return == pytest.approx(result.trades.pnl[0] / 10_000, rel=1e-12)
    assert equity_return < result.trades.returns[0]  # half the equity was committed


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    allow_short=st.booleans(),
    stop=st.sampled_from([None, 0.02, 0.05]),
)
def test_accounting_identities_hold_for_random_signals(seed, allow_short, stop):
    # given random prices and random long/short signals
    rng = np.random.default_rng(seed)
    n = 120
    open_ = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    close = open_ * np.exp(rng.normal(0, 0.005, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    bars = bars_from_prices(open_, close=close, high=high, low=low)
    strategy = ScriptedStrategy(
        entries=rng.random(n) < 0.1, exits=rng.random(n) < 0.1,
        short_entries=rng.random(n) < 0.1, short_exits=rng.random(n) < 0.1,
    )
    # when backtested with positions closed at the end
    result = run_backtest(bars, strategy, config=config(allow_short=allow_short, sl_stop=stop))
    trades = result.trades
    # then the equity change is the sum of the trades' P&L, fees are the taker rate of the
    # traded value, no trade fills on bar 0, and a leg's trades never overlap
    assert np.all(np.isfinite(result.equity))
    assert result.final_equity - 10_000 == pytest.approx(trades.pnl.sum(), abs=1e-6)
    traded = trades.size * (trades.entry_price + trades.exit_price)
    assert trades.fees.sum() == pytest.approx(FEE * traded.sum(), rel=1e-9, abs=1e-9)
    assert np.all(trades.entry_index >= 1)
    for side in (0, 1):
        leg = trades.select(trades.direction == side)
        assert np.all(leg.entry_index[1:] >= leg.exit_index[:-1])
    assert not np.any(trades.is_open)
