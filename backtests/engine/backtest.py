"""Vectorised backtests: one parameter set, a batch of them, or one over several instruments.

Guarantees:
- signals are computed on bars [0, end) only and fill at the next bar's open
  (see `execution.py`); costs are always charged (see `simulator.py`);
- `start` lets indicators warm up on earlier bars: the account starts flat
  with its initial cash at bar `start`'s open and the results cover [start, end);
- `run_batch` simulates many parameter sets in few vectorbt calls (columns
  processed in chunks bounded in memory) and returns per-set summary figures
  that equal what `run_backtest` reports for the same parameters;
- `run_multi` splits the initial cash equally between instruments, each
  trading its own sub-account; the portfolio is their sum.
Invalid parameters raise `ParameterError` before anything runs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from backtests.engine.batch_signals import BatchSignals, batch_signal_source
from backtests.engine.config import BacktestConfig
from backtests.engine.execution import ExecutionPlan, build_execution_plan
from backtests.engine.ledger import N_SUMMARY, SUMMARY_FIELDS, replay
from backtests.engine.results import BacktestResult, BatchResult, MultiBacktestResult
from backtests.engine.simulator import PriceMatrix, simulate
from backtests.engine.statistics import backtest_report, buy_and_hold_equity
from backtests.engine.trades import TradesTable, trades_table
from trading.engine.market import Bars, timeframe_ms
from trading.engine.strategy import ParameterError, Strategy

CHUNK_ELEMENTS = 1 << 25  # at most bars x columns simulated per vectorbt call in a batch
CHUNK_COLUMNS = 16  # few columns per call: their signal rows stay sparse (see simulator.py)


def _bar_range(bars: Bars, start: int, end: int | None) -> tuple[int, int]:
    end = len(bars) if end is None else end
    if not 0 <= start < end <= len(bars):
        raise ValueError(f"invalid bar range [{start}, {end}) for {len(bars)} bars")
    if end - start < 2:
        raise ValueError("a backtest needs at least two bars")
    return start, end


def _replay(
    records: np.ndarray, plan: ExecutionPlan, close: np.ndarray, init_cash: np.ndarray,
    periods: float, *, curves: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(summary (groups, N_SUMMARY), equity (n, groups), position (n, columns))."""
    n = plan.n_bars
    summary = np.empty((plan.n_groups, N_SUMMARY))
    equity = np.empty((n, plan.n_groups) if curves else (0, 0))
    position = np.empty((n, plan.n_columns) if curves else (0, 0))
    replay(
        np.ascontiguousarray(records["col"]), np.ascontiguousarray(records["idx"]),
        np.ascontiguousarray(records["size"]), np.ascontiguousarray(records["price"]),
        np.ascontiguousarray(records["fees"]), np.ascontiguousarray(records["side"]),
        plan.group_lens, np.ascontiguousarray(init_cash, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64), float(periods), curves,
        equity, position, summary,
    )
    return summary, equity, position


def _account_result(
    *, strategy: Strategy, params: Mapping[str, Any], config: BacktestConfig, symbol: str,
    bars: Bars, start: int, initial: float, equity: np.ndarray, position: np.ndarray,
    benchmark: np.ndarray, trades: TradesTable,
) -> BacktestResult:
    window = bars.slice(start, start + len(equity))
    timeframe = config.timeframe_for(bars.timeframe)
    in_market = position != 0 if position.ndim == 1 else np.any(position != 0, axis=1)
    stats = backtest_report(
        timestamps=window.timestamps, equity=equity, initial_cash=initial,
        periods=config.periods_per_year(bars.timeframe), bar_ms=timeframe_ms(timeframe),
        benchmark_equity=benchmark, in_market=in_market, trades=trades,
    )
    return BacktestResult(
        strategy=strategy.name, params=dict(params), config=config, symbol=symbol,
        timeframe=timeframe, start_index=start, initial_cash=initial,
        timestamps=window.timestamps, equity=equity, position=position,
        benchmark_equity=benchmark, trades=trades, stats=stats,
    )


def _window_prices(bars: Bars, start: int, end: int) -> tuple[np.ndarray, ...]:
    return bars.open[start:end], bars.high[start:end], bars.low[start:end], bars.close[start:end]


def run_backtest(
    bars: Bars,
    strategy: Strategy,
    params: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
    *,
    start: int = 0,
    end: int | None = None,
) -> BacktestResult:
    """Backtest one parameter set over bars [start, end) with full results."""
    config = config or BacktestConfig()
    start, end = _bar_range(bars, start, end)
    checked = strategy.param_space.validate(params or {})
    history = bars.slice(0, end)
    signals = BatchSignals.from_signals([strategy.signals(history, checked)])
    plan = build_execution_plan(signals, config, start=start, stop=end)
    prices = PriceMatrix.single(*_window_prices(bars, start, end))
    init_cash = np.array([config.initial_cash])
    records = simulate(plan, prices, config.costs, init_cash)
    _, equity, position = _replay(
        records, plan, prices.close, init_cash, config.periods_per_year(bars.timeframe),
        curves=True,
    )
    trades = trades_table(
        records, plan, prices.open, prices.close, bars.timestamps[start:end],
        bar_offset=start, slippage=config.costs.slippage, symbols=(bars.symbol,),
    )
    return _account_result(
        strategy=strategy, params=checked, config=config, symbol=bars.symbol, bars=bars,
        start=start, initial=config.initial_cash, equity=equity[:, 0],
        position=position.sum(axis=1),
        benchmark=buy_and_hold_equity(prices.open[:, 0], prices.close[:, 0], config.initial_cash),
        trades=trades,
    )


def _validated_all(strategy: Strategy, params: Sequence[Mapping[str, Any]]) -> list[dict]:
    checked = []
    for i, p in enumerate(params):
        try:
            checked.append(strategy.param_space.validate(p))
        except ParameterError as exc:
            raise ParameterError({f"params[{i}].{k}": v for k, v in exc.errors.items()}) from None
    return checked


def run_batch(
    bars: Bars,
    strategy: Strategy,
    params: Sequence[Mapping[str, Any]],
    config: BacktestConfig | None = None,
    *,
    start: int = 0,
    end: int | None = None,
    keep_returns: bool = False,
    chunk_columns: int | None = None,
) -> BatchResult:
    """Summary figures of every parameter set in `params` over bars [start, end).

    With `keep_returns` the result also holds the (bars, sets) matrix of bar
    returns (what overfitting statistics need); it costs 8 bytes per element.
    """
    config = config or BacktestConfig()
    start, end = _bar_range(bars, start, end)
    if not params:
        raise ValueError("run_batch needs at least one parameter set")
    checked = _validated_all(strategy, params)
    source = batch_signal_source(strategy, bars.slice(0, end), checked)
    prices = PriceMatrix.single(*_window_prices(bars, start, end))
    periods = config.periods_per_year(bars.timeframe)
    chunk = chunk_columns or max(1, min(CHUNK_COLUMNS, CHUNK_ELEMENTS // (2 * (end - start))))
    rows, returns = [], []
    for first in range(0, len(checked), chunk):
        signals = source.columns(first, min(first + chunk, len(checked)))
        plan = build_execution_plan(signals, config, start=start, stop=end)
        init_cash = np.full(plan.n_groups, config.initial_cash)
        records = simulate(plan, prices, config.costs, init_cash)
        summary, equity, _ = _replay(records, plan, prices.close, init_cash, periods,
                                     curves=keep_returns)
        rows.append(summary)
        if keep_returns:
            previous = np.vstack([init_cash[None, :], equity[:-1]])
            returns.append(equity / previous - 1.0)
    table = np.concatenate(rows, axis=0)
    metrics = {name: table[:, i].copy() for i, name in enumerate(SUMMARY_FIELDS)}
    return BatchResult(strategy=strategy.name, params=tuple(checked), config=config,
                       metrics=metrics,
                       returns=np.concatenate(returns, axis=1) if keep_returns else None)


def align_bars(bars: Sequence[Bars]) -> list[Bars]:
    """The bars restricted to the timestamps all of them share (gaps are never filled)."""
    if len({b.timeframe for b in bars}) > 1:
        raise ValueError("cannot align bars of different timeframes")
    common = bars[0].timestamps
    for b in bars[1:]:
        common = np.intersect1d(common, b.timestamps, assume_unique=True)
    aligned = []
    for b in bars:
        keep = np.searchsorted(b.timestamps, common)
        aligned.append(Bars.from_arrays(
            common, b.open[keep], b.high[keep], b.low[keep], b.close[keep], b.volume[keep],
            symbol=b.symbol, timeframe=b.timeframe,
            funding_rate=None if b.funding_rate is None else b.funding_rate[keep],
        ))
    return aligned


def run_multi(
    bars: Sequence[Bars],
    strategy: Strategy,
    params: Mapping[str, Any] | None = None,
    config: BacktestConfig | None = None,
    *,
    start: int = 0,
    end: int | None = None,
) -> MultiBacktestResult:
    """One parameter set over several instruments with the same timestamps (see `align_bars`)."""
    config = config or BacktestConfig()
    if not bars:
        raise ValueError("run_multi needs at least one instrument")
    if any(not np.array_equal(b.timestamps, bars[0].timestamps) for b in bars[1:]):
        raise ValueError("instruments have different timestamps; align them with align_bars()")
    start, end = _bar_range(bars[0], start, end)
    checked = strategy.param_space.validate(params or {})
    signals = BatchSignals.from_signals([strategy.signals(b.slice(0, end), checked) for b in bars])
    plan = build_execution_plan(signals, config, start=start, stop=end)
    per_column = [_window_prices(b, start, end) for b in bars for _ in range(plan.legs)]
    prices = PriceMatrix.of_columns(per_column)
    share = config.initial_cash / len(bars)
    init_cash = np.full(len(bars), share)
    records = simulate(plan, prices, config.costs, init_cash)
    _, equity, position = _replay(
        records, plan, prices.close, init_cash, config.periods_per_year(bars[0].timeframe),
        curves=True,
    )
    symbols = tuple(b.symbol for b in bars)
    trades = trades_table(
        records, plan, prices.open, prices.close, bars[0].timestamps[start:end],
        bar_offset=start, slippage=config.costs.slippage, symbols=symbols,
    )
    net = position.reshape(len(equity), len(bars), plan.legs).sum(axis=2)
    benchmarks = [buy_and_hold_equity(b.open[start:end], b.close[start:end], share) for b in bars]
    account = functools.partial(_account_result, strategy=strategy, params=checked,
                                config=config, start=start)
    instruments = tuple(
        account(symbol=b.symbol, bars=b, initial=share, equity=equity[:, g],
                        position=net[:, g], benchmark=benchmarks[g],
                        trades=trades.select(trades.group == g))
        for g, b in enumerate(bars)
    )
    portfolio = account(
        symbol="+".join(symbols), bars=bars[0], initial=config.initial_cash,
        equity=equity.sum(axis=1), position=net, benchmark=np.sum(benchmarks, axis=0),
        trades=trades,
    )
    return MultiBacktestResult(portfolio=portfolio, instruments=instruments)
