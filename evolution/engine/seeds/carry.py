"""Carry seed: perpetual funding-rate carry (entry).

Guarantees: reads `bars.funding_rate`, the stored 8h funding rates aligned to the
bars (a rate known at bar t's close); a bar whose rate is NaN, or bars without
any funding data, never signal. Values at t read rates 0..t only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evolution.engine.seeds.seed import Seed, no_orders
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals


def mean_funding(funding_rate: np.ndarray, window: int) -> np.ndarray:
    """Mean of the known funding rates over the last `window` bars; NaN where bar t's rate is."""
    rate = np.asarray(funding_rate, dtype=np.float64)
    mean = pd.Series(rate).rolling(window, min_periods=1).mean().to_numpy(copy=True)
    mean[~np.isfinite(rate)] = np.nan
    return mean


class FundingRateCarry(Seed):
    """Funding-rate carry: take the side of a perpetual that gets paid funding.

    The signal is the mean funding rate (per 8h) over the last `window` bars.
    When it is below -`threshold`, shorts pay longs and the crowd is leaning
    short: go long, and close the long once the mean rises above
    -`threshold` x `exit_ratio`. With `allow_short` (on by default: the carry
    trade mostly lives on this side), a mean above +`threshold` means longs
    pay shorts: open a short, covered once the mean falls below
    +`threshold` x `exit_ratio`. No funding data (None or NaN) means no signal.
    """

    name = "funding_rate_carry"
    title = "Funding-rate carry"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace(
        (
            Param(
                "threshold",
                "float",
                0.0003,
                0.00002,
                0.003,
                log=True,
                description="Mean funding (per 8h) that opens a position.",
            ),
            Param("window", "int", 24, 1, 500, log=True, description="Averaging window (bars)."),
            Param(
                "exit_ratio",
                "float",
                0.5,
                0.0,
                1.0,
                description="Exit when funding falls back to this share of the threshold.",
            ),
            Param("allow_short", "bool", True, description="Also short when funding is high."),
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        if bars.funding_rate is None:
            entries, exits = no_orders(len(bars))
            return Signals(entries=entries, exits=exits)
        mean = mean_funding(bars.funding_rate, params["window"])
        threshold = params["threshold"]
        exit_level = threshold * params["exit_ratio"]
        entries, exits = mean < -threshold, mean > -exit_level
        if not params["allow_short"]:
            return Signals(entries=entries, exits=exits, extras={"mean_funding": mean})
        return Signals(
            entries=entries,
            exits=exits,
            short_entries=mean > threshold,
            short_exits=mean < exit_level,
            extras={"mean_funding": mean},
        )
