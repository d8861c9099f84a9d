"""Risk seeds: ATR stop-loss (exit block) and volatility scaling (sizing block).

Guarantees: stops and sizes at bar t read bars 0..t only; stops are positive
fractions of the entry price or NaN (no stop) while ATR warms up; sizes are in
[0, max_size] or NaN (engine default) while volatility warms up. The entries and
exits of these blocks are `no_orders`' shared read-only arrays. `compute_many`
computes each indicator period once (or takes it from the memo) and each block's output in
one compiled pass,
with the values of `atr(...) / close` and `realized_volatility` followed by numpy's
element-wise steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np

from evolution.engine.seeds.indicator_memo import SeriesMemo
from evolution.engine.seeds.seed import Seed, annualisation, no_orders
from evolution.engine.seeds.shared_indicators import atr_by_period, realized_volatility_by_window
from trading.engine.indicators.inputs import as_series
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals


class AtrStopLoss(Seed):
    """ATR stop-loss: put the stop a multiple of the Average True Range away.

    At each bar the stop distance is `stop_mult` x ATR(atr_period) / close, a
    fraction of the entry price, so the stop widens in volatile markets and
    tightens in quiet ones; the engine reads it on the entry bar. `stop_type`
    "fixed" sets a stop-loss at that distance below the entry, "trailing" a
    trailing stop that follows the best price since entry. A `take_profit_mult`
    above 0 also takes profit at that many ATRs (0 = no take-profit). As an exit
    block it opens no trades itself.
    """

    name = "atr_stop_loss"
    title = "ATR stop-loss"
    role = "exit"
    roles = ("exit",)
    param_space = ParamSpace(
        (
            Param("atr_period", "int", 14, 5, 50, description="ATR period (bars)."),
            Param("stop_mult", "float", 2.0, 0.5, 8.0, log=True, description="Stop in ATRs."),
            Param("stop_type", "categorical", "fixed", choices=("fixed", "trailing")),
            Param(
                "take_profit_mult",
                "float",
                0.0,
                0.0,
                15.0,
                description="Take-profit in ATRs (0 = none).",
            ),
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        return self.compute_many(bars, [params])[0]

    def compute_many(
        self, bars: Bars, params: Sequence[dict[str, Any]], memo: SeriesMemo | None = None
    ) -> list[Signals]:
        """Each ATR period the parameter sets need computed once, all together."""
        if not params:
            return []
        periods = [p["atr_period"] for p in params]

        def compute(some: list[int]) -> dict[int, np.ndarray]:
            return atr_by_period(bars.high, bars.low, bars.close, some)

        atrs = compute(periods) if memo is None else memo.rows("atr", periods, compute)
        close = as_series(bars.close, "close")
        return [self._signals(atrs[p["atr_period"]], close, p) for p in params]

    @staticmethod
    def _signals(atr: np.ndarray, close: np.ndarray, params: dict[str, Any]) -> Signals:
        with_take_profit = params["take_profit_mult"] > 0
        stop, take_profit = _stop_distances(
            atr, close, float(params["stop_mult"]), float(params["take_profit_mult"]),
            with_take_profit,
        )
        entries, exits = no_orders(len(close))
        trailing = params["stop_type"] == "trailing"
        return Signals(
            entries=entries,
            exits=exits,
            sl_stop=None if trailing else stop,
            tsl_stop=stop if trailing else None,
            tp_stop=take_profit if with_take_profit else None,
        )


class VolatilityScaling(Seed):
    """Volatility scaling: size each position to a target annualised volatility.

    Size = target_vol / realised volatility of the last `vol_window` close-to-close
    log returns (annualised for the bars' timeframe), capped at `max_size` (the
    largest fraction of equity, no leverage above it). Calm markets get bigger
    positions, turbulent ones smaller, so every trade carries similar risk; a
    market with no movement at all gets `max_size`. As a sizing block it opens
    no trades itself; NaN (engine default size) while the window fills.
    """

    name = "volatility_scaling"
    title = "Volatility scaling"
    role = "sizing"
    roles = ("sizing",)
    param_space = ParamSpace(
        (
            Param("vol_window", "int", 168, 24, 1000, log=True, description="Volatility window."),
            Param(
                "target_vol", "float", 0.5, 0.05, 2.0, log=True, description="Annualised target."
            ),
            Param("max_size", "float", 1.0, 0.1, 1.0, description="Largest equity fraction."),
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        return self.compute_many(bars, [params])[0]

    def compute_many(
        self, bars: Bars, params: Sequence[dict[str, Any]], memo: SeriesMemo | None = None
    ) -> list[Signals]:
        """Log returns computed once, each volatility window once."""
        if not params:
            return []
        windows, per_year = [p["vol_window"] for p in params], annualisation(bars)

        def compute(some: list[int]) -> dict[int, np.ndarray]:
            return realized_volatility_by_window(bars.close, some, per_year)

        vols = compute(windows) if memo is None else \
            memo.rows(("realized_volatility", per_year), windows, compute)
        entries, exits = no_orders(len(bars))
        return [
            Signals(
                entries=entries,
                exits=exits,
                size=_sizes(vols[p["vol_window"]], float(p["target_vol"]), float(p["max_size"])),
            )
            for p in params
        ]


@numba.njit(cache=True, error_model="numpy")
def _sizes(vol: np.ndarray, target_vol: float, max_size: float) -> np.ndarray:
    """np.minimum(target_vol / vol, max_size) (NaN if either is NaN; the second on a tie),
    and max_size where vol == 0."""
    size = np.empty(vol.shape[0])
    for t in range(vol.shape[0]):
        ratio = target_vol / vol[t]
        size[t] = ratio if ratio < max_size or ratio != ratio else max_size
        if vol[t] == 0:
            size[t] = max_size
    return size


@numba.njit(cache=True, error_model="numpy")
def _stop_distances(
    atr: np.ndarray, close: np.ndarray, stop_mult: float, take_profit_mult: float,
    with_take_profit: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(stop_mult * (atr / close), take_profit_mult * (atr / close)), NaN wherever a value
    is not positive (a zero or unknown distance is no stop at all); the take-profit is
    empty unless asked for."""
    n = close.shape[0]
    stop = np.empty(n)
    take_profit = np.empty(n if with_take_profit else 0)
    for t in range(n):
        fraction = atr[t] / close[t]
        distance = stop_mult * fraction
        stop[t] = distance if distance > 0 else np.nan
        if with_take_profit:
            distance = take_profit_mult * fraction
            take_profit[t] = distance if distance > 0 else np.nan
    return stop, take_profit
