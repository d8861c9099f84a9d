"""Breakout seed: Donchian channel breakout (entry).

Guarantees: the channel at bar t spans the `period` bars BEFORE t, so the
current close can break out of it (a channel that included bar t would contain
the close and never be broken: the Donchian lesson). Values at t read bars 0..t.
"""

from __future__ import annotations

from typing import Any

from evolution.engine.seeds.seed import ALLOW_SHORT, Seed
from trading.engine.indicators import donchian
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
        close, threshold = bars.close, params["breakout_threshold"]
        upper, lower, _ = donchian(bars.high, bars.low, params["entry_period"])
        exit_upper, exit_lower, _ = donchian(bars.high, bars.low, params["exit_period"])
        entries = close > upper * (1.0 + threshold)
        exits = close < exit_lower
        if not params["allow_short"]:
            return Signals(entries=entries, exits=exits)
        return Signals(
            entries=entries,
            exits=exits,
            short_entries=close < lower * (1.0 - threshold),
            short_exits=close > exit_upper,
        )
