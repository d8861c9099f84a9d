"""The shipped strategies and the registry every caller looks strategies up in.

Guarantees: every registered strategy satisfies `trading.engine.strategy.Strategy`:
signals at bar t use bars 0..t only (the lookahead check in `lookahead.py`
verifies this on real data), parameters are validated against the strategy's
`ParamSpace` (cross-parameter rules raise `ParameterError` too), and the
optional `batch_signals` fast path returns exactly the per-parameter signals.
Signals are long/short symmetric; the backtest config decides whether the
short side is traded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from backtests.engine.batch_signals import BatchSignals
from backtests.engine.signal_kernels import crossover_columns, distinct_index, threshold_columns
from trading.engine.indicators import rsi, sma
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParameterError, ParamSpace, Signals, Strategy

SMA_SPACE = ParamSpace(
    (
        Param("fast", "int", 10, low=2, high=200, description="fast SMA length (bars)"),
        Param("slow", "int", 30, low=3, high=500, description="slow SMA length (bars)"),
    )
)
RSI_SPACE = ParamSpace(
    (
        Param("period", "int", 14, low=2, high=100, description="RSI length (bars)"),
        Param("oversold", "float", 30.0, low=1.0, high=49.0, description="buy below this RSI"),
        Param("overbought", "float", 70.0, low=51.0, high=99.0, description="sell above this RSI"),
    )
)


def _validated_sma(params: Mapping[str, Any]) -> dict[str, Any]:
    values = SMA_SPACE.validate(params)
    if values["fast"] >= values["slow"]:
        raise ParameterError({"slow": "must be greater than fast"})
    return values


def _validated_rsi(params: Mapping[str, Any]) -> dict[str, Any]:
    return RSI_SPACE.validate(params)


def _lines_matrix(close: np.ndarray, lengths: list[int], indicator: Any) -> np.ndarray:
    lines = np.empty((len(close), len(lengths)))
    for i, n in enumerate(lengths):
        lines[:, i] = indicator(close, n)
    return lines


class SMACrossoverBatch:
    """Batch source for `SMACrossover`: every distinct SMA is computed once."""

    def __init__(self, bars: Bars, params: Sequence[Mapping[str, Any]]):
        checked = [_validated_sma(p) for p in params]
        lengths, index = distinct_index([p["fast"] for p in checked] + [p["slow"] for p in checked])
        self._lines = _lines_matrix(bars.close, lengths, sma)
        self._fast = index[: len(checked)]
        self._slow = index[len(checked):]

    @property
    def n_columns(self) -> int:
        return len(self._fast)

    def columns(self, start: int, stop: int) -> BatchSignals:
        n, k = self._lines.shape[0], stop - start
        up = np.empty((n, k), dtype=bool)
        down = np.empty((n, k), dtype=bool)
        crossover_columns(self._lines, self._fast[start:stop], self._slow[start:stop], up, down)
        return BatchSignals(entries=up, exits=down, short_entries=down, short_exits=up)


class SMACrossover:
    """Long when the fast SMA crosses above the slow one, short on the cross below."""

    name = "sma_crossover"
    description = (
        "Trend following: enter long when the fast simple moving average of closes "
        "crosses above the slow one, exit (or go short) when it crosses back below."
    )
    param_space = SMA_SPACE

    def signals(self, bars: Bars, params: Mapping[str, Any]) -> Signals:
        batch = self.batch_signals(bars, [params]).columns(0, 1)
        up, down = batch.entries[:, 0], batch.exits[:, 0]
        return Signals(entries=up, exits=down, short_entries=down, short_exits=up)

    def batch_signals(self, bars: Bars, params: Sequence[Mapping[str, Any]]) -> SMACrossoverBatch:
        return SMACrossoverBatch(bars, params)


class RSIMeanReversionBatch:
    """Batch source for `RSIMeanReversion`: every distinct RSI period is computed once."""

    def __init__(self, bars: Bars, params: Sequence[Mapping[str, Any]]):
        checked = [_validated_rsi(p) for p in params]
        periods, self._index = distinct_index([p["period"] for p in checked])
        self._lines = _lines_matrix(bars.close, periods, rsi)
        self._lower = np.array([p["oversold"] for p in checked], dtype=np.float64)
        self._upper = np.array([p["overbought"] for p in checked], dtype=np.float64)

    @property
    def n_columns(self) -> int:
        return len(self._index)

    def columns(self, start: int, stop: int) -> BatchSignals:
        n, k = self._lines.shape[0], stop - start
        below = np.empty((n, k), dtype=bool)
        above = np.empty((n, k), dtype=bool)
        threshold_columns(
            self._lines, self._index[start:stop], self._lower[start:stop],
            self._upper[start:stop], below, above,
        )
        return BatchSignals(entries=below, exits=above, short_entries=above, short_exits=below)


class RSIMeanReversion:
    """Long while RSI is oversold, exit (or short) while it is overbought."""

    name = "rsi_mean_reversion"
    description = (
        "Mean reversion: buy when Wilder's RSI closes below the oversold level, "
        "sell (or go short) when it closes above the overbought level."
    )
    param_space = RSI_SPACE

    def signals(self, bars: Bars, params: Mapping[str, Any]) -> Signals:
        batch = self.batch_signals(bars, [params]).columns(0, 1)
        below, above = batch.entries[:, 0], batch.exits[:, 0]
        return Signals(entries=below, exits=above, short_entries=above, short_exits=below)

    def batch_signals(
        self, bars: Bars, params: Sequence[Mapping[str, Any]]
    ) -> RSIMeanReversionBatch:
        return RSIMeanReversionBatch(bars, params)


class UnknownStrategyError(KeyError):
    """No strategy is registered under that name."""


_REGISTRY: dict[str, Strategy] = {}


def register(strategy: Strategy, *, replace: bool = False) -> Strategy:
    """Add `strategy` under `strategy.name`; a second registration of a name needs `replace`."""
    if not isinstance(strategy, Strategy):
        raise TypeError(f"{strategy!r} does not implement the Strategy protocol")
    if strategy.name in _REGISTRY and not replace:
        raise ValueError(f"a strategy named {strategy.name!r} is already registered")
    _REGISTRY[strategy.name] = strategy
    return strategy


def get_strategy(name: str) -> Strategy:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownStrategyError(
            f"unknown strategy {name!r}; registered: {', '.join(sorted(_REGISTRY))}"
        ) from None


def list_strategies() -> list[Strategy]:
    """Registered strategies sorted by name."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


register(SMACrossover())
register(RSIMeanReversion())
