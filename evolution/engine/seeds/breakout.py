"""Breakout seed: Donchian channel breakout (entry).

Guarantees: the channel at bar t spans the `period` bars BEFORE t, so the
current close can break out of it (a channel that included bar t would contain
the close and never be broken: the Donchian lesson). Values at t read bars 0..t.
`compute_many` gives, bit for bit, what `trading.engine.indicators.donchian` and the
comparisons of the docstring give, each block's channels read from one table of the
highs and one of the lows (`extremes`) and compared with the close in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np

from evolution.engine.seeds.extremes import Side, higher, lower, side_of, window_pair
from evolution.engine.seeds.indicator_memo import SeriesMemo
from evolution.engine.seeds.seed import ALLOW_SHORT, Seed, event_signals
from trading.engine.indicators.inputs import as_series, check_period
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals


class DonchianBreakout(Seed):
    """Donchian breakout: buy strength when the close breaks the prior N-bar high.

    The entry channel is the highest high and lowest low of the `entry_period`
    bars before the current one. Go long when the close exceeds the channel high
    by more than `breakout_threshold` (close > high * (1 + threshold)); every bar
    that makes such a breakout is an entry signal. Close the long when the close
    falls below the lowest low of the `exit_period` bars before it (the turtle
    exit: a shorter channel gives back less). With `allow_short`, a close below
    the channel low * (1 - threshold) opens a short, covered above the prior
    `exit_period`-bar high. Flat prices never break out.
    """

    name = "donchian_breakout"
    title = "Donchian breakout"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace(
        (
            Param("entry_period", "int", 20, 10, 100, log=True, description="Breakout channel."),
            Param("exit_period", "int", 10, 5, 55, log=True, description="Exit channel (bars)."),
            Param(
                "breakout_threshold",
                "float",
                0.001,
                0.0,
                0.02,
                description="Margin beyond the channel (fraction of price).",
            ),
            ALLOW_SHORT,
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        return self.compute_many(bars, [params])[0]

    def compute_many(
        self, bars: Bars, params: Sequence[dict[str, Any]], memo: SeriesMemo | None = None
    ) -> list[Signals]:
        """One table of the highs and one of the lows serve every block's channels."""
        settings = np.array(
            [(check_period(p["entry_period"]), check_period(p["exit_period"]),
              p["breakout_threshold"], bool(p["allow_short"])) for p in params],
            dtype=np.float64,
        ).reshape(len(params), 4)
        blocks = _breakout_blocks(as_series(bars.close, "close"), as_series(bars.high, "high"),
                                  as_series(bars.low, "low"), settings)
        return [event_signals(rows) for rows in blocks]


@numba.njit(cache=True)
def _breakout_blocks(close: np.ndarray, high: np.ndarray, low: np.ndarray,
                     settings: np.ndarray) -> list[np.ndarray]:
    """Per parameter set (entry_period, exit_period, breakout_threshold, allow_short):
    rows entries, exits (and short entries, short exits when shorting)."""
    periods = settings[:, :2].astype(np.int64)
    longest = periods.max() if settings.shape[0] else 1
    highs, lows = side_of(high, longest, True, -1), side_of(low, longest, False, -1)
    out = []
    for j in range(settings.shape[0]):
        entry_period, exit_period, threshold = periods[j, 0], periods[j, 1], settings[j, 2]
        rows = np.empty((4 if settings[j, 3] else 2, close.shape[0]), dtype=np.bool_)
        _breaks(close, highs, entry_period, 1.0 + threshold, rows[0])
        _breaks(close, lows, exit_period, 1.0, rows[1])
        if rows.shape[0] == 4:
            _breaks(close, lows, entry_period, 1.0 - threshold, rows[2])
            _breaks(close, highs, exit_period, 1.0, rows[3])
        out.append(rows)
    return out


@numba.njit(cache=True)
def _breaks(close: np.ndarray, side: Side, period: int, factor: float,
            out: np.ndarray) -> None:
    """out[t] = close[t] > highest-before * factor (a highest side), or
    close[t] < lowest-before * factor (a lowest side); False while the channel is NaN
    (x * 1.0 is x, so the exit channels compare exactly as the bare channel does)."""
    a, b, first = window_pair(side, period, True)
    begin = side.start + first
    out[:begin] = False
    rest, price = out[begin:], close[begin:]
    if side.highest:
        for i in range(rest.shape[0]):
            rest[i] = price[i] > higher(a[i], b[i]) * factor
    else:
        for i in range(rest.shape[0]):
            rest[i] = price[i] < lower(a[i], b[i]) * factor
