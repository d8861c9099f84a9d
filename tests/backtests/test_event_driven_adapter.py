"""The event-driven adapter without a database: sizing modes and sub-accounts keep vectorised
parity, the trades table is built from the kernel's fills, decisions are grouped by reason."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from backtests.engine.backtest import align_bars, run_backtest, run_multi
from backtests.engine.config import BacktestConfig
from backtests.engine.costs import Costs
from backtests.engine.sizing import Sizing
from backtests.engine.strategies import get_strategy
from backtests.event_driven import run_event_driven
from backtests.event_driven.decisions import KernelSummary, reason_key, skip_reason
from backtests.event_driven.kernel_setup import SessionSizing, engine_instrument
from tests.market_data import load_bars
from trading.engine.events import BreakerEvent, DecisionEvent, EventBus

PARAMS = {"fast": 10, "slow": 50}
START = 150  # warm-up bars, as a session of these parameters loads
COSTS = Costs(maker_fee=0.0002, taker_fee=0.001, slippage=0.001)


@pytest.fixture(scope="module")
def btc():
    return load_bars("BTCUSDT", "1h", start="2021-12-25", end="2022-03-01")


def _strategy_run(bars, config):
    return run_event_driven(bars, get_strategy("sma_crossover"), PARAMS, config,
                            {"engine": "strategy"}, start=START, window=500)


def _assert_same_trades(expected, actual):
    assert len(actual.trades) == len(expected.trades) > 5
    assert list(actual.trades.entry_index) == list(expected.trades.entry_index)
    assert list(actual.trades.exit_index) == list(expected.trades.exit_index)
    assert list(actual.trades.group) == list(expected.trades.group)
    for name in ("size", "entry_price", "exit_price", "entry_fees", "exit_fees", "pnl"):
        np.testing.assert_allclose(getattr(actual.trades, name), getattr(expected.trades, name),
                                   rtol=1e-9, err_msg=name)
    np.testing.assert_allclose(actual.equity, expected.equity, rtol=1e-9)


@pytest.mark.parametrize("sizing", [Sizing.fraction(0.4), Sizing.cash(2_500.0),
                                    Sizing.units(0.05), Sizing.fraction(1.0, granularity=0.001)],
                         ids=["fraction", "cash", "units", "granularity"])
def test_every_sizing_mode_makes_the_vectorised_trades(btc, sizing):
    # given a session sized other than all-in, with higher costs
    config = BacktestConfig(costs=COSTS, sizing=sizing)
    # when
    expected = run_backtest(btc, get_strategy("sma_crossover"), PARAMS, config, start=START)
    actual = _strategy_run([btc], config)
    # then
    _assert_same_trades(expected, actual.result)
    assert set(actual.exit_reasons) <= {"signal", "end"}


def test_several_instruments_trade_sub_accounts_like_the_vectorised_run(btc):
    # given BTC and ETH over the same hours
    eth = load_bars("ETHUSDT", "1h", start="2021-12-25", end="2022-03-01")
    bars = align_bars([btc, eth])
    config = BacktestConfig(costs=COSTS)
    # when
    expected = run_multi(bars, get_strategy("sma_crossover"), PARAMS, config, start=START)
    actual = _strategy_run(bars, config).result
    # then the portfolio and each instrument match
    _assert_same_trades(expected.portfolio, actual.portfolio)
    for mine, theirs in zip(actual.instruments, expected.instruments, strict=True):
        np.testing.assert_allclose(mine.equity, theirs.equity, rtol=1e-9)
        assert mine.stats["trades"]["trades"] == theirs.stats["trades"]["trades"]


def test_the_instrument_grid_is_fine_enough_not_to_move_prices(btc):
    # when
    instrument = engine_instrument(btc, 10_000.0)
    # then a price and an all-in size are rounded by less than 1e-11 of themselves
    price = Decimal(str(float(btc.low.min())))
    assert instrument.tick_size / price < Decimal("1e-11")
    assert instrument.lot_size / (Decimal(10_000) / Decimal(str(float(btc.high.max())))) < Decimal(
        "1e-11")


def test_session_sizing_never_spends_more_than_the_free_cash(btc):
    # given units worth far more than the cash
    instrument = engine_instrument(btc, 1_000.0)
    sizing = SessionSizing("units", 10.0, None, 0.001)
    # when
    quantity = sizing.entry_quantity(Decimal(0), Decimal(1_000), Decimal(40_000), Decimal("0.001"),
                                     instrument)
    # then the quantity is capped to what 1,000 pays for, fees included
    assert quantity * Decimal(40_000) * Decimal("1.001") <= Decimal(1_000)
    assert quantity > Decimal("0.0249")


def test_skips_are_grouped_by_their_wording_without_figures():
    # given decisions the kernel published
    summary, bus = KernelSummary(), EventBus()
    summary.subscribe(bus)
    for confidence in ("0.41", "0.38"):
        bus.publish(DecisionEvent(1, "BTC/USDT", "SKIP", 0.4, f"HOLD 0.5; confidence {confidence} "
                                  "below the moderate buy threshold 0.6; skip"))
    bus.publish(DecisionEvent(2, "BTC/USDT", "SKIP", 0.9, "BUY 0.9; 0.90 >= threshold; skip; "
                              "session paused (circuit breaker): no new entries"))
    bus.publish(DecisionEvent(3, "BTC/USDT", "TRAIL_BUY", 0.9, "enter"))
    bus.publish(DecisionEvent(3, "BTC/USDT", "ENTRY_REFUSED", 0.0, "free cash 3.2 buys no lot"))
    bus.publish(BreakerEvent(4, "daily_loss", "PAUSE", "daily loss 5.1% reached 5%", 0.051, 0.05))
    # when
    data = summary.as_dict()
    # then
    assert data["decisions"] == {"total": 4, "by_action": {"SKIP": 3, "TRAIL_BUY": 1}}
    assert data["skips"] == [
        {"reason": "confidence # below the moderate buy threshold #", "count": 2},
        {"reason": "session paused (circuit breaker): no new entries", "count": 1},
    ]
    assert data["entries_refused"] == [{"reason": "free cash # buys no lot", "count": 1}]
    assert data["breakers"]["trips"] == 1 and data["breakers"]["events"][0]["time"] == 4


def test_the_reason_of_a_skip_is_its_last_words():
    assert skip_reason("a; b; skip") == "b"
    assert skip_reason("a; skip; gate closed") == "gate closed"
    assert reason_key("size 0.0021 (1,234.50) binds at -3e-05") == "size # (#) binds at #"
