"""Batched parameter sets give exactly what single backtests give, on real BTC data."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.engine.backtest import run_backtest, run_batch
from backtests.engine.batch_signals import BatchSignals, PerParamSignalSource
from backtests.engine.config import BacktestConfig
from backtests.engine.ledger import SUMMARY_FIELDS
from backtests.engine.statistics import flat_figures
from backtests.engine.strategies import RSIMeanReversion, SMACrossover
from trading.engine.strategy import ParameterError

SMA_PARAMS = [{"fast": f, "slow": s} for f in (5, 12, 24) for s in (30, 72, 168)]
RSI_PARAMS = [{"period": p, "oversold": lo, "overbought": hi}
              for p in (7, 14) for lo, hi in ((25.0, 75.0), (35.0, 65.0))]


def _single_figures(result) -> dict[str, float]:
    flat = flat_figures(result.stats)
    return {name: flat[name] for name in SUMMARY_FIELDS}


@pytest.mark.parametrize(
    ("strategy", "params", "config"),
    [
        (SMACrossover(), SMA_PARAMS, BacktestConfig()),
        (SMACrossover(), SMA_PARAMS, BacktestConfig(allow_short=True, sl_stop=0.04)),
        (RSIMeanReversion(), RSI_PARAMS, BacktestConfig(allow_short=True, tp_stop=0.05)),
    ],
)
def test_every_batch_column_equals_its_single_backtest(btc_2022, strategy, params, config):
    # given a batch of parameter sets
    # when run as one batch and one by one
    batch = run_batch(btc_2022, strategy, params, config, start=500)
    # then every summary figure agrees with the full statistics of the single run
    for i, p in enumerate(params):
        single = _single_figures(run_backtest(btc_2022, strategy, p, config, start=500))
        for name in SUMMARY_FIELDS:
            expected, got = single[name], batch.metric(name)[i]
            if expected is None:
                assert np.isnan(got), (p, name)
            else:
                assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), (p, name)


@pytest.mark.parametrize("strategy,params", [(SMACrossover(), SMA_PARAMS),
                                             (RSIMeanReversion(), RSI_PARAMS)])
def test_the_fast_batch_signals_equal_per_parameter_signals(btc_2022, strategy, params):
    fast = strategy.batch_signals(btc_2022, params).columns(0, len(params))
    generic = PerParamSignalSource(strategy, btc_2022, params).columns(0, len(params))
    for name in ("entries", "exits", "short_entries", "short_exits"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(generic, name))
    assert fast.entries.sum() > 0


def test_results_do_not_depend_on_how_columns_are_chunked(btc_2022):
    whole = run_batch(btc_2022, SMACrossover(), SMA_PARAMS)
    chunked = run_batch(btc_2022, SMACrossover(), SMA_PARAMS, chunk_columns=2)
    for name in SUMMARY_FIELDS:
        np.testing.assert_array_equal(whole.metric(name), chunked.metric(name))


def test_kept_returns_are_the_single_runs_returns(btc_2022):
    batch = run_batch(btc_2022, SMACrossover(), SMA_PARAMS[:3], keep_returns=True)
    assert batch.returns is not None and batch.returns.shape == (len(btc_2022), 3)
    single = run_backtest(btc_2022, SMACrossover(), SMA_PARAMS[1])
    np.testing.assert_allclose(batch.returns[:, 1], single.returns, rtol=1e-12, atol=1e-15)


def test_ranking_puts_the_best_sharpe_first_and_skips_idle_sets(btc_2022):
    batch = run_batch(btc_2022, SMACrossover(), SMA_PARAMS)
    order = batch.ranked("sharpe")
    sharpe = batch.metric("sharpe")
    assert sharpe[order[0]] == np.nanmax(sharpe)
    assert batch.best_index("total_return") == int(np.nanargmax(batch.metric("total_return")))
    record = batch.to_records()[order[0]]
    assert record["params"] == SMA_PARAMS[order[0]]


def test_invalid_parameter_sets_are_rejected_with_their_position(btc_2022):
    with pytest.raises(ParameterError) as caught:
        run_batch(btc_2022, SMACrossover(), [{"fast": 5, "slow": 20}, {"fast": 5, "slow": 1}])
    assert "params[1].slow" in caught.value.errors
    with pytest.raises(ParameterError):
        run_batch(btc_2022, SMACrossover(), [{"fast": 30, "slow": 20}])


def test_batch_signals_stack_columns_from_signals():
    from trading.engine.strategy import Signals

    a = Signals(entries=np.array([True, False]), exits=np.array([False, True]), sl_stop=0.05)
    b = Signals(entries=np.array([False, True]), exits=np.array([False, False]))
    stacked = BatchSignals.from_signals([a, b])
    assert stacked.entries.tolist() == [[True, False], [False, True]]
    assert stacked.short_entries is None
    assert stacked.sl_stop is not None and stacked.sl_stop.shape == (1, 2)
    assert stacked.sl_stop[0, 0] == 0.05 and np.isnan(stacked.sl_stop[0, 1])


def test_skipping_idle_rows_changes_nothing(btc_2022):
    # given SMA signals of several parameter sets, long and short
    from backtests.engine.execution import build_execution_plan
    from backtests.engine.simulator import PriceMatrix, simulate

    config = BacktestConfig(allow_short=True)
    signals = SMACrossover().batch_signals(btc_2022, SMA_PARAMS).columns(0, len(SMA_PARAMS))
    plan = build_execution_plan(signals, config)
    prices = PriceMatrix.single(btc_2022.open, btc_2022.high, btc_2022.low, btc_2022.close)
    cash = np.full(plan.n_groups, config.initial_cash)
    # when simulated on the signal rows only, and on every row
    sparse = simulate(plan, prices, config.costs, cash)
    dense = simulate(plan, prices, config.costs, cash, skip_idle_rows=False)
    # then the orders are identical
    assert len(plan.active_rows()) < len(btc_2022)
    assert len(sparse) > 100
    for field in ("col", "idx", "size", "price", "fees", "side"):
        np.testing.assert_array_equal(sparse[field], dense[field])
