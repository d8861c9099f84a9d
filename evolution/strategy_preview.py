"""A strategy's equity curve and trades, computed on demand (read-only, never stored).

Guarantees: the strategy is backtested exactly as its run scored it (the run's
costs and shorting, the decoded genome, signals on closed bars filled at the
next open) over the run's whole range, in-sample through walk-forward, on one
of the run's instruments, with the bars before the range warming indicators
up. The market data comes from the process's dataset cache, so a page view
after the first reads no candles. The curve is thinned to at most
`MAX_POINTS` points keeping peaks and troughs; the most recent `MAX_TRADES`
trades are returned, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from backtests.curves import curve_indices, thinned
from backtests.engine.backtest import run_backtest
from backtests.engine.serialization import json_safe
from backtests.engine.statistics import flat_figures
from evolution.engine.datasets import DATASETS
from evolution.engine.genome import Genome, decode
from evolution.models import EvolutionRun, Strategy
from evolution.run_config import RunEngine

MAX_POINTS = 2_000
MAX_TRADES = 200


@dataclass(frozen=True)
class StrategyPreview:
    instrument_id: int
    symbol: str
    curve: dict[str, Any]
    trades: list[dict[str, Any]]
    trade_count: int
    figures: dict[str, Any]
    windows: dict[str, list[int]]


def strategy_preview(strategy: Strategy, run: EvolutionRun,
                     instrument_id: int | None = None) -> StrategyPreview:
    """The backtest of `strategy` over `run`'s range on one instrument (default: the first)."""
    engine = RunEngine.of(run)
    ids = [int(s) for s in engine.whole.symbols]
    index = ids.index(instrument_id) if instrument_id in ids else 0
    dataset = DATASETS.get(engine.whole.key)
    bars, (start, stop) = dataset.bars[index], dataset.windows[index]
    result = run_backtest(bars, decode(Genome.from_dict(strategy.genome)), {},
                          engine.evaluation.backtest, start=start, end=stop)
    keep = curve_indices(result.equity, result.drawdown, MAX_POINTS)
    curve = thinned({"timestamps": result.timestamps, "equity": result.equity,
                     "benchmark": result.benchmark_equity}, keep)
    records = result.trades.to_records()
    return StrategyPreview(
        instrument_id=ids[index], symbol=bars.symbol,
        curve=json_safe({k: np.asarray(v).tolist() for k, v in curve.items()}),
        trades=records[::-1][:MAX_TRADES], trade_count=len(records),
        figures=json_safe(flat_figures(result.stats)), windows=dict(run.windows),
    )
