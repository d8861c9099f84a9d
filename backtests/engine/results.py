"""What a backtest returns: single run, multi-instrument run, and batch of parameter sets.

Guarantees: results are immutable; `to_dict()` is JSON-safe (no NaN, lists
instead of arrays) and holds everything a session needs to show the run again
without recomputing it (equity and benchmark curves with their timestamps,
drawdown, the trades table and the statistics report). Batch results keep one
summary row per parameter set, with the figures defined in `statistics.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtests.engine.config import BacktestConfig
from backtests.engine.ledger import SUMMARY_FIELDS
from backtests.engine.serialization import json_safe
from backtests.engine.statistics import drawdown_curve, returns_from_equity
from backtests.engine.trades import TradesTable


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """One strategy + parameter set over one account (an instrument, or several combined)."""

    strategy: str
    params: Mapping[str, Any]
    config: BacktestConfig
    symbol: str
    timeframe: str
    start_index: int
    initial_cash: float
    timestamps: np.ndarray  # bar open times (ms) of the traded bars
    equity: np.ndarray  # account value at each bar's close
    position: np.ndarray  # net units held at each close (long +, short -); (n,) or (n, k)
    benchmark_equity: np.ndarray  # buy-and-hold of the same capital, no costs
    trades: TradesTable
    stats: Mapping[str, Any]

    @property
    def returns(self) -> np.ndarray:
        return returns_from_equity(self.equity, self.initial_cash)

    @property
    def drawdown(self) -> np.ndarray:
        return drawdown_curve(self.equity, self.initial_cash)

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1])

    def trade_equity_returns(self) -> np.ndarray:
        """Each closed trade's P&L over the account equity just before it was entered."""
        closed = ~self.trades.is_open
        entry_row = self.trades.entry_index[closed] - self.start_index
        before = np.where(
            entry_row > 0, self.equity[np.maximum(entry_row - 1, 0)], self.initial_cash
        )
        return self.trades.pnl[closed] / before

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "strategy": self.strategy,
                "params": dict(self.params),
                "config": self.config.as_dict(),
                "symbol": self.symbol,
                "timeframe": self.timeframe,
                "start_index": self.start_index,
                "initial_cash": self.initial_cash,
                "curves": {
                    "timestamps": self.timestamps,
                    "equity": self.equity,
                    "benchmark": self.benchmark_equity,
                    "drawdown": self.drawdown,
                },
                "trades": self.trades.to_records(),
                "stats": dict(self.stats),
            }
        )


@dataclass(frozen=True, eq=False)
class MultiBacktestResult:
    """One strategy over several instruments, capital split equally between them."""

    portfolio: BacktestResult
    instruments: tuple[BacktestResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "portfolio": self.portfolio.to_dict(),
            "instruments": {r.symbol: {"stats": json_safe(dict(r.stats))}
                            for r in self.instruments},
        }


@dataclass(frozen=True, eq=False)
class BatchResult:
    """Summary figures of many parameter sets run over the same bars."""

    strategy: str
    params: tuple[Mapping[str, Any], ...]
    config: BacktestConfig
    metrics: Mapping[str, np.ndarray]  # SUMMARY_FIELDS -> one value per parameter set
    returns: np.ndarray | None = None  # (bars, sets) bar returns when kept

    def __len__(self) -> int:
        return len(self.params)

    def metric(self, name: str) -> np.ndarray:
        if name not in self.metrics:
            raise KeyError(f"unknown metric {name!r}; available: {', '.join(SUMMARY_FIELDS)}")
        return self.metrics[name]

    def ranked(self, metric: str = "sharpe", *, min_trades: int = 0) -> np.ndarray:
        """Indices from best to worst by `metric` (NaN and too-few-trades last)."""
        values = np.where(np.isnan(self.metric(metric)), -np.inf, self.metric(metric))
        values = np.where(self.metrics["trades"] >= min_trades, values, -np.inf)
        return np.argsort(-values, kind="stable")

    def best_index(self, metric: str = "sharpe", *, min_trades: int = 0) -> int:
        return int(self.ranked(metric, min_trades=min_trades)[0])

    def row(self, index: int) -> dict[str, Any]:
        figures = {name: values[index] for name, values in self.metrics.items()}
        return json_safe({"params": dict(self.params[index]), **figures})

    def to_records(self) -> list[dict[str, Any]]:
        return [self.row(i) for i in range(len(self))]
