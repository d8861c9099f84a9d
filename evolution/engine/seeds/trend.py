"""Trend seeds: EMA crossover (entry), SMA trend filter (filter), Ichimoku cloud (entry).

Guarantees: each value at bar t is computed from bars 0..t only (the indicators
are causal); nothing fires while an indicator is warming up. The SMA filter and the
Ichimoku cloud compute many parameter sets in one compiled call (`compute_many`; `compute`
is one set of it), bit for bit what `trading.engine.indicators` `sma` and `ichimoku` and
the comparisons of their docstrings give: each SMA period and each midpoint line once
for the sets that share it, the highs and lows read through `extremes`' tables, the
signals written in one pass per set. The filter's entries and exits are one read-only
array of False shared by the sets of a call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np

from evolution.engine.seeds.crossings import band_crossings
from evolution.engine.seeds.extremes import lexical_order, midpoint_into, side_of, smas_into
from evolution.engine.seeds.indicator_memo import SeriesMemo
from evolution.engine.seeds.seed import ALLOW_SHORT, Seed, event_signals
from evolution.engine.seeds.shared_indicators import ema_by_period
from trading.engine.indicators.inputs import as_series, check_period
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals


class EmaCrossover(Seed):
    """EMA crossover: follow the trend when a fast EMA crosses a slow EMA of the close.

    The spread is (fast EMA - slow EMA) / slow EMA. Go long on the bar where the
    spread rises above +band; close the long when it falls below -band. With
    `allow_short`, open a short when the spread falls below -band and cover when
    it rises above +band. `band` = 0 is the classic crossover; a wider band
    ignores whipsaws around the crossing point. The shorter of the two periods
    is the fast line, so every pair in range is meaningful; equal periods never
    cross and never trade.
    """

    name = "ema_crossover"
    title = "EMA crossover"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace(
        (
            Param("fast_period", "int", 9, 2, 50, log=True, description="Fast EMA period (bars)."),
            Param("slow_period", "int", 21, 10, 200, log=True, description="Slow EMA period."),
            Param("band", "float", 0.0, 0.0, 0.02, description="Spread hysteresis (fraction)."),
            ALLOW_SHORT,
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        return self.compute_many(bars, [params])[0]

    def compute_many(
        self, bars: Bars, params: Sequence[dict[str, Any]], memo: SeriesMemo | None = None
    ) -> list[Signals]:
        """Every EMA period the parameter sets need computed once, all together."""
        pairs = [sorted((p["fast_period"], p["slow_period"])) for p in params]
        emas = ema_by_period(bars.close, [n for pair in pairs for n in pair])
        return [self._signals(emas[fast_n], emas[slow_n], p)
                for (fast_n, slow_n), p in zip(pairs, params, strict=True)]

    @staticmethod
    def _signals(fast: np.ndarray, slow: np.ndarray, params: dict[str, Any]) -> Signals:
        # the spread (fast - slow) / slow is identically 0 when the periods are equal
        entries, exits = band_crossings(fast, slow, params["band"])
        if not params["allow_short"]:
            return Signals(entries=entries, exits=exits)
        return Signals(
            entries=entries,
            exits=exits,
            short_entries=exits.copy(),
            short_exits=entries.copy(),
        )


class SmaTrendFilter(Seed):
    """SMA trend filter: only trade with the trend of a simple moving average.

    Longs are allowed while the close is above SMA(period) by more than `band`
    (a fraction of the SMA) and, when `slope_bars` > 0, the SMA is higher than it
    was `slope_bars` bars ago. Shorts are allowed in the mirror image: close below
    SMA by more than `band` and, with `slope_bars` > 0, the SMA falling. Nothing is
    allowed while the SMA is warming up. As a filter it opens no trades itself.
    """

    name = "sma_trend_filter"
    title = "SMA trend filter"
    role = "filter"
    roles = ("filter",)
    param_space = ParamSpace(
        (
            Param("period", "int", 100, 10, 400, log=True, description="SMA period (bars)."),
            Param("slope_bars", "int", 0, 0, 48, description="SMA must rise over this many bars."),
            Param("band", "float", 0.0, 0.0, 0.03, description="Distance from the SMA (fraction)."),
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        return self.compute_many(bars, [params])[0]

    def compute_many(
        self, bars: Bars, params: Sequence[dict[str, Any]], memo: SeriesMemo | None = None
    ) -> list[Signals]:
        """Each SMA period computed once; one never-firing entries/exits array (read-only)
        serves every block."""
        settings = np.array(
            [(check_period(p["period"]), p["slope_bars"], p["band"]) for p in params],
            dtype=np.float64,
        ).reshape(len(params), 3)
        blocks = _trend_blocks(as_series(bars.close, "close"), settings)
        never = np.zeros(len(bars), dtype=bool)
        never.flags.writeable = False
        return [Signals(entries=never, exits=never,
                        extras={"allow": rows[0], "allow_short": rows[1]}) for rows in blocks]


class IchimokuCloud(Seed):
    """Ichimoku cloud: trade when price clears the cloud with momentum behind it.

    Bullish state: close above the cloud (above both senkou spans, as known at the
    bar) and tenkan-sen above kijun-sen. Go long on the bar the bullish state
    begins. Close the long when the close falls below the kijun-sen
    (`exit_rule` = "kijun", the faster exit) or below the cloud bottom
    (`exit_rule` = "cloud"). With `allow_short` the bearish mirror image (close
    below the cloud, tenkan below kijun) opens shorts, covered above the kijun or
    the cloud top.
    """

    name = "ichimoku_cloud"
    title = "Ichimoku cloud"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace(
        (
            Param("tenkan", "int", 9, 5, 30, description="Conversion line period (bars)."),
            Param("kijun", "int", 26, 15, 80, description="Base line period (bars)."),
            Param("senkou_b", "int", 52, 30, 160, description="Leading span B period (bars)."),
            Param("exit_rule", "categorical", "kijun", choices=("kijun", "cloud")),
            ALLOW_SHORT,
        )
    )

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        return self.compute_many(bars, [params])[0]

    def compute_many(
        self, bars: Bars, params: Sequence[dict[str, Any]], memo: SeriesMemo | None = None
    ) -> list[Signals]:
        """One table of the highs and one of the lows; each midpoint line computed once
        for the blocks in a row that share its period."""
        settings = np.array(
            [(check_period(p["tenkan"], "tenkan"), check_period(p["kijun"], "kijun"),
              check_period(p["senkou_b"], "senkou_b"), p["exit_rule"] != "kijun",
              bool(p["allow_short"])) for p in params],
            dtype=np.float64,
        ).reshape(len(params), 5)
        blocks = _cloud_blocks(as_series(bars.close, "close"), as_series(bars.high, "high"),
                               as_series(bars.low, "low"), settings)
        return [event_signals(rows) for rows in blocks]


@numba.njit(cache=True)
def _trend_blocks(close: np.ndarray, settings: np.ndarray) -> list[np.ndarray]:
    """Per parameter set (period, slope_bars, band): rows allow, allow_short. The SMAs of
    four distinct periods at a time are computed together (`smas_into`)."""
    n = close.shape[0]
    periods = settings[:, :2].astype(np.int64)
    distinct = np.unique(periods[:, 0])
    averages = np.empty((min(4, distinct.shape[0]), n))
    order = lexical_order(periods[:, :1])
    out = [np.empty((0, 0), dtype=np.bool_) for _ in range(settings.shape[0])]
    done = 0
    for first in range(0, distinct.shape[0], 4):
        chunk = distinct[first:first + 4]
        smas_into(close.reshape((1, n)), np.zeros(chunk.shape[0], dtype=np.int64), chunk,
                  averages)
        while done < order.shape[0] and periods[order[done], 0] <= chunk[-1]:
            j = order[done]
            rows = np.empty((2, n), dtype=np.bool_)
            row = np.searchsorted(chunk, periods[j, 0])
            _trend_rows(close, averages[row], settings[j, 2], periods[j, 1], rows)
            out[j] = rows
            done += 1
    return out


@numba.njit(cache=True)
def _trend_rows(close: np.ndarray, average: np.ndarray, band: float, lag: int,
                rows: np.ndarray) -> None:
    """allow = close > SMA * (1 + band), allow_short = close < SMA * (1 - band); with a
    lag, also SMA above (below) its value `lag` bars ago, False before that."""
    above, below = 1.0 + band, 1.0 - band
    n = close.shape[0]
    begin = min(lag, n) if lag > 0 else 0
    rows[:, :begin] = False
    price, now = close[begin:], average[begin:]
    allow, allow_short = rows[0, begin:], rows[1, begin:]
    if lag <= 0:
        for t in range(price.shape[0]):
            allow[t] = price[t] > now[t] * above
            allow_short[t] = price[t] < now[t] * below
        return
    then = average[:n - begin]
    for t in range(price.shape[0]):
        allow[t] = (price[t] > now[t] * above) & (now[t] > then[t])
        allow_short[t] = (price[t] < now[t] * below) & (now[t] < then[t])


@numba.njit(cache=True)
def _cloud_blocks(close: np.ndarray, high: np.ndarray, low: np.ndarray,
                  settings: np.ndarray) -> list[np.ndarray]:
    """Per parameter set (tenkan, kijun, senkou_b, cloud exit, allow_short): rows
    entries, exits (and short entries, short exits when shorting)."""
    n = close.shape[0]
    periods = settings[:, :3].astype(np.int64)
    longest = periods.max() if settings.shape[0] else 1
    highs, lows = side_of(high, longest, True, -1), side_of(low, longest, False, -1)
    lines = np.empty((3, n))  # the tenkan, kijun and senkou B midpoints, undelayed
    states = np.empty((4, n), dtype=np.bool_)
    held = np.full(3, -1)
    out = [np.empty((0, 0), dtype=np.bool_) for _ in range(settings.shape[0])]
    for j in lexical_order(periods):
        for line in range(3):
            if held[line] != periods[j, line]:
                held[line] = periods[j, line]
                midpoint_into(highs, lows, held[line], lines[line])
        _cloud_states(close, lines, periods[j, 1], settings[j, 3] != 0.0, states)
        rows = np.empty((4 if settings[j, 4] else 2, n), dtype=np.bool_)
        _cloud_events(states, rows)
        out[j] = rows
    return out


@numba.njit(cache=True)
def _cloud_states(close: np.ndarray, lines: np.ndarray, shift: int, cloud_exit: bool,
                  states: np.ndarray) -> None:
    """Rows of `states`: bullish, long exit, bearish, short exit (before entries win ties).
    The spans are the midpoint lines `shift` bars ago (senkou A = (tenkan + kijun) / 2.0
    then), known where both are finite (|x| < inf), so the cloud's top and bottom are
    plain max and min wherever they are read."""
    n = close.shape[0]
    begin = min(shift, n)
    states[0, :begin] = False
    states[2, :begin] = False
    kijun_exit = not cloud_exit
    for t in range(begin):  # no cloud yet: only the kijun exits can fire
        states[1, t] = kijun_exit and close[t] < lines[1, t]
        states[3, t] = kijun_exit and close[t] > lines[1, t]
    price, fast, base = close[begin:], lines[0, begin:], lines[1, begin:]
    fast_then, base_then, span_b = lines[0, :n - begin], lines[1, :n - begin], lines[2, :n - begin]
    bullish, leave, bearish, cover = (states[0, begin:], states[1, begin:], states[2, begin:],
                                      states[3, begin:])
    for t in range(price.shape[0]):
        lead_a, lead_b, p = (fast_then[t] + base_then[t]) / 2.0, span_b[t], price[t]
        known = (abs(lead_a) < np.inf) & (abs(lead_b) < np.inf)
        top = lead_a if lead_a >= lead_b else lead_b
        bottom = lead_a if lead_a <= lead_b else lead_b
        bullish[t] = known & (p > top) & (fast[t] > base[t])
        bearish[t] = known & (p < bottom) & (fast[t] < base[t])
        if cloud_exit:
            leave[t], cover[t] = known & (p < bottom), known & (p > top)
        else:
            leave[t], cover[t] = p < base[t], p > base[t]


@numba.njit(cache=True)
def _cloud_events(states: np.ndarray, rows: np.ndarray) -> None:
    """Entries on the bar a state begins; exits where no entry fires on the same bar."""
    for pair in range(rows.shape[0] // 2):
        state, leave = states[2 * pair], states[2 * pair + 1]
        entries, exits = rows[2 * pair], rows[2 * pair + 1]
        if entries.shape[0] == 0:
            return
        entries[0] = state[0]
        now, before, rest = state[1:], state[:-1], entries[1:]
        for t in range(rest.shape[0]):
            rest[t] = now[t] & ~before[t]
        for t in range(exits.shape[0]):
            exits[t] = leave[t] & ~entries[t]
