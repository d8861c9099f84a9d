"""Risk seeds: ATR stop-loss (exit block) and volatility scaling (sizing block).

Guarantees: stops and sizes at bar t read bars 0..t only; stops are positive
fractions of the entry price or NaN (no stop) while ATR warms up; sizes are in
[0, max_size] or NaN (engine default) while volatility warms up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evolution.engine.seeds.seed import Seed, annualisation, no_orders
from evolution.engine.seeds.shared_indicators import atr_by_period
from trading.engine.indicators import realized_volatility
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

    def compute_many(self, bars: Bars, params: Sequence[dict[str, Any]]) -> list[Signals]:
        """Each ATR period the parameter sets need computed once, all together."""
        atrs = atr_by_period(bars.high, bars.low, bars.close, [p["atr_period"] for p in params])
        fractions = {n: values / bars.close for n, values in atrs.items()}
        return [self._signals(len(bars), fractions[p["atr_period"]], p) for p in params]

    @staticmethod
    def _signals(n: int, range_fraction: np.ndarray, params: dict[str, Any]) -> Signals:
        stop = params["stop_mult"] * range_fraction
        stop[~(stop > 0)] = np.nan  # a zero or unknown distance is no stop at all
        take_profit = None
        if params["take_profit_mult"] > 0:
            take_profit = params["take_profit_mult"] * range_fraction
            take_profit[~(take_profit > 0)] = np.nan
        entries, exits = no_orders(n)
        trailing = params["stop_type"] == "trailing"
        return Signals(
            entries=entries,
            exits=exits,
            sl_stop=None if trailing else stop,
            tsl_stop=stop if trailing else None,
            tp_stop=take_profit,
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
        vol = realized_volatility(bars.close, params["vol_window"], annualisation(bars))
        return self._signals(len(bars), vol, params)

    def compute_many(self, bars: Bars, params: Sequence[dict[str, Any]]) -> list[Signals]:
        """Each volatility window the parameter sets need computed once."""
        vols = {n: realized_volatility(bars.close, n, annualisation(bars))
                for n in {p["vol_window"] for p in params}}
        return [self._signals(len(bars), vols[p["vol_window"]], p) for p in params]

    @staticmethod
    def _signals(n: int, vol: np.ndarray, params: dict[str, Any]) -> Signals:
        max_size = params["max_size"]
        with np.errstate(divide="ignore", invalid="ignore"):
            size = np.minimum(params["target_vol"] / vol, max_size)
        size[vol == 0] = max_size
        entries, exits = no_orders(n)
        return Signals(entries=entries, exits=exits, size=size)
