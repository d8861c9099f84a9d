"""Carry seed: perpetual funding-rate carry (entry).

Guarantees: reads `bars.funding_rate`, the stored 8h funding rates aligned to the
bars (a rate known at bar t's close); a bar whose rate is NaN, or bars without
any funding data, never signal. Values at t read rates 0..t only.

`mean_funding` is pandas' rolling mean with min_periods=1, bit for bit: the same
Kahan-compensated running sum (separate compensations for values added and
removed, non-finite rates skipped), a run of equal rates giving that rate, and a
mean of all-positive (all-negative) rates clipped at 0 from below (above).
`compute_many` computes each window's mean once (blocks of one window share that
read-only array as `extras["mean_funding"]`) and each block's signals in one
compiled pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np

from evolution.engine.seeds.indicator_memo import SeriesMemo
from evolution.engine.seeds.seed import Seed, no_orders
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals


def mean_funding(funding_rate: np.ndarray, window: int) -> np.ndarray:
    """Mean of the known funding rates over the last `window` bars; NaN where bar t's rate is."""
    return _rolling_mean(np.ascontiguousarray(funding_rate, dtype=np.float64), _bars(window))


def _bars(window: object) -> int:
    """`window` as a number of bars (pandas refuses anything else, so do we)."""
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    return int(window)


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
        return self.compute_many(bars, [params])[0]

    def compute_many(
        self, bars: Bars, params: Sequence[dict[str, Any]], memo: SeriesMemo | None = None
    ) -> list[Signals]:
        """Each averaging window's mean computed once."""
        if bars.funding_rate is None:
            entries, exits = no_orders(len(bars))
            return [Signals(entries=entries, exits=exits) for _ in params]
        means: dict[int, np.ndarray] = {}
        out = []
        for p in params:
            window = _bars(p["window"])
            if window not in means:
                means[window] = mean_funding(bars.funding_rate, window)
                means[window].flags.writeable = False
            out.append(self._signals(means[window], p))
        return out

    @staticmethod
    def _signals(mean: np.ndarray, params: dict[str, Any]) -> Signals:
        threshold = params["threshold"]
        exit_level = threshold * params["exit_ratio"]
        shorts = bool(params["allow_short"])
        entries, exits, short_entries, short_exits = _carry_events(
            mean, float(threshold), float(exit_level), shorts
        )
        if not shorts:
            return Signals(entries=entries, exits=exits, extras={"mean_funding": mean})
        return Signals(
            entries=entries,
            exits=exits,
            short_entries=short_entries,
            short_exits=short_exits,
            extras={"mean_funding": mean},
        )


@numba.njit(cache=True, error_model="numpy")
def _carry_events(
    mean: np.ndarray, threshold: float, exit_level: float, shorts: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mean < -threshold, mean > -exit_level, mean > threshold, mean < exit_level) in
    one pass; the short pair is empty unless `shorts`."""
    n = mean.shape[0]
    m = n if shorts else 0
    entries, exits = np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
    short_entries, short_exits = np.empty(m, dtype=np.bool_), np.empty(m, dtype=np.bool_)
    for t in range(n):
        value = mean[t]
        entries[t] = value < -threshold
        exits[t] = value > -exit_level
        if shorts:
            short_entries[t] = value > threshold
            short_exits[t] = value < exit_level
    return entries, exits, short_entries, short_exits


@numba.njit(cache=True, error_model="numpy")
def _rolling_mean(rate: np.ndarray, window: int) -> np.ndarray:
    """pandas' `rolling(window, min_periods=1).mean()` of `rate` (see the module
    docstring), NaN wherever the rate itself is not finite."""
    size = rate.shape[0]
    mean = np.empty(size)
    nobs = negative = same = 0
    total = added = removed = 0.0
    last = np.nan
    for i in range(size):
        value = rate[i]
        if i == 0 or window == 1:  # pandas starts the window afresh
            nobs = negative = same = 0
            total = added = removed = 0.0
            last = value if math.isfinite(value) else np.nan
        elif i >= window:
            gone = rate[i - window]
            if math.isfinite(gone):
                nobs -= 1
                y = -gone - removed
                t = total + y
                removed = t - total - y
                total = t
                negative -= 1 if np.signbit(gone) else 0
        if not math.isfinite(value):
            mean[i] = np.nan
            continue
        nobs += 1
        y = value - added
        t = total + y
        added = t - total - y
        total = t
        negative += 1 if np.signbit(value) else 0
        same = same + 1 if value == last else 1
        last = value
        result = total / nobs
        if same >= nobs:
            result = last
        elif (negative == 0 and result < 0) or (negative == nobs and result > 0):
            result = 0.0  # rounding may not cross zero when every rate has one sign
        mean[i] = result
    return mean
