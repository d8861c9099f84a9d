"""A price grid whose spacing tunes itself from recent swings.

Guarantees:
- `swing_points` finds confirmed swing highs and lows (the shared fractal
  indicator: a bar's high/low is the extreme of `window` bars either side),
  alternating high/low; a pivot needs `window` later bars, so the last `window`
  bars never produce one (no lookahead).
- `self_tuned_spacing` = `fraction` (default 30%) of the average swing size,
  clamped to [0.5%, 5%]; with too few swings it returns `default`.
- A `Grid` is immutable: levels at center * (1 + spacing) ** i for i in
  [-n, n], prices Decimal (rounded to the tick size when given). Operations
  return a `GridUpdate` with the new grid and the levels whose orders the
  caller must now place or cancel.
- Only levels within `activation_window` (default 5%) of the price are ACTIVE.
  A buy filled at level i arms a sell at level i + 1; a sell filled at level j
  arms a buy at level j - 1 (the classic grid round trip).
- `activate_near(price, buys_only=True)` (a long-only spot grid, whose sells
  are armed only by inventory) arms idle levels below the price as buys and
  idles buy levels outside the window or no longer below the price; sell
  levels are left as they are.
- `on_fill(index, side)` records a fill of an order placed while the level was
  active even if the level has since been idled (an order finishing late).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

import numpy as np

from trading.engine.indicators import swing_highs, swing_lows
from trading.engine.money import Number, round_down, to_decimal
from trading.engine.orders.model import OrderSide

MIN_SPACING = 0.005
MAX_SPACING = 0.05


def swing_points(high: np.ndarray, low: np.ndarray, window: int = 5) -> list[tuple[int, float]]:
    """Alternating confirmed swing extremes as (bar index, price), oldest first.

    Pivots are the shared fractal swing indicator (`indicators.swing_highs` /
    `swing_lows` with `window` bars each side); a bar that is both a swing high
    and a swing low (an outside bar) contributes its high first.
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    if len(low) != len(high):
        raise ValueError("high and low must have the same length")
    highs = swing_highs(high, window, window)
    lows = swing_lows(low, window, window)
    pivots: list[tuple[int, float, bool]] = []  # (index, price, is_high)
    for t in np.flatnonzero(~np.isnan(highs) | ~np.isnan(lows)):
        bar = int(t) - window
        if not np.isnan(highs[t]):
            _append_pivot(pivots, (bar, float(highs[t]), True))
        if not np.isnan(lows[t]):
            _append_pivot(pivots, (bar, float(lows[t]), False))
    return [(bar, price) for bar, price, _ in pivots]


def _append_pivot(pivots: list[tuple[int, float, bool]], pivot: tuple[int, float, bool]) -> None:
    """Keep highs and lows alternating: of two same-kind pivots in a row keep the extreme."""
    if pivots and pivots[-1][2] == pivot[2]:
        previous = pivots[-1]
        more_extreme = pivot[1] > previous[1] if pivot[2] else pivot[1] < previous[1]
        if more_extreme:
            pivots[-1] = pivot
        return
    pivots.append(pivot)


def average_swing(high: np.ndarray, low: np.ndarray, window: int = 5) -> float | None:
    """Mean relative size of consecutive swings (|p_k / p_{k-1} - 1|); None if < 2 pivots."""
    prices = np.array([price for _, price in swing_points(high, low, window)])
    if len(prices) < 2:
        return None
    return float(np.mean(np.abs(prices[1:] / prices[:-1] - 1.0)))


def self_tuned_spacing(
    high: np.ndarray,
    low: np.ndarray,
    *,
    window: int = 5,
    fraction: float = 0.3,
    default: float = 0.015,
    bounds: tuple[float, float] = (MIN_SPACING, MAX_SPACING),
) -> float:
    """Grid spacing as a fraction of price, from the recent average swing."""
    swing = average_swing(high, low, window)
    raw = default if swing is None else fraction * swing
    return float(min(max(raw, bounds[0]), bounds[1]))


class LevelState(StrEnum):
    IDLE = "IDLE"  # too far from the price: no order
    ACTIVE = "ACTIVE"  # the caller should have an order working here
    FILLED = "FILLED"  # inventory taken here, waiting for the neighbour to fill


@dataclass(frozen=True)
class GridLevel:
    index: int
    price: Decimal
    side: OrderSide
    state: LevelState = LevelState.IDLE


@dataclass(frozen=True)
class GridUpdate:
    grid: Grid
    activated: tuple[GridLevel, ...] = ()
    deactivated: tuple[GridLevel, ...] = ()


@dataclass(frozen=True)
class Grid:
    center: Decimal
    spacing: float
    levels: tuple[GridLevel, ...]
    activation_window: float = 0.05

    @classmethod
    def build(
        cls,
        center: Number,
        spacing: float,
        levels_per_side: int,
        *,
        activation_window: float = 0.05,
        tick_size: Decimal | None = None,
    ) -> Grid:
        """Levels -n..n around `center`; buys below, sells above, level 0 idle."""
        if not (MIN_SPACING <= spacing <= MAX_SPACING):
            raise ValueError(f"spacing must be within [{MIN_SPACING}, {MAX_SPACING}]")
        if levels_per_side < 1:
            raise ValueError("levels_per_side must be >= 1")
        mid = to_decimal(center)
        if mid <= 0:
            raise ValueError("center price must be positive")
        step = to_decimal(1.0 + spacing)
        levels = []
        for i in range(-levels_per_side, levels_per_side + 1):
            price = mid * step**i
            if tick_size is not None:
                price = round_down(price, tick_size)
            side = OrderSide.BUY if i < 0 else OrderSide.SELL
            levels.append(GridLevel(i, price, side))
        return cls(mid, spacing, tuple(levels), activation_window)

    def level(self, index: int) -> GridLevel:
        for lvl in self.levels:
            if lvl.index == index:
                return lvl
        raise KeyError(f"grid has no level {index}")

    @property
    def active_levels(self) -> tuple[GridLevel, ...]:
        return tuple(lvl for lvl in self.levels if lvl.state is LevelState.ACTIVE)

    def needs_recenter(self, price: Number) -> bool:
        """True when the price left the grid's range: rebuild it around the price."""
        p = to_decimal(price)
        return p < self.levels[0].price or p > self.levels[-1].price

    def should_retune(self, new_spacing: float, tolerance: float = 0.25) -> bool:
        """True when the self-tuned spacing drifted more than `tolerance` from ours."""
        return abs(new_spacing / self.spacing - 1.0) > tolerance

    def activate_near(self, price: Number, *, buys_only: bool = False) -> GridUpdate:
        """Arm idle levels within the activation window; idle the active ones outside it."""
        if buys_only:
            return self._activate_buys_near(to_decimal(price))
        p = to_decimal(price)
        window = to_decimal(self.activation_window)
        new_levels, activated, deactivated = [], [], []
        for lvl in self.levels:
            near = abs(lvl.price / p - 1) <= window and lvl.price != p
            if lvl.state is LevelState.IDLE and near:
                side = OrderSide.BUY if lvl.price < p else OrderSide.SELL
                lvl = replace(lvl, side=side, state=LevelState.ACTIVE)
                activated.append(lvl)
            elif lvl.state is LevelState.ACTIVE and not near:
                lvl = replace(lvl, state=LevelState.IDLE)
                deactivated.append(lvl)
            new_levels.append(lvl)
        return GridUpdate(
            replace(self, levels=tuple(new_levels)), tuple(activated), tuple(deactivated)
        )

    def _activate_buys_near(self, p: Decimal) -> GridUpdate:
        floor = p * (1 - to_decimal(self.activation_window))  # 1 - price / p <= window
        idle, active, buy = LevelState.IDLE, LevelState.ACTIVE, OrderSide.BUY
        new_levels, activated, deactivated = [], [], []
        for lvl in self.levels:
            wanted = floor <= lvl.price < p
            if lvl.state is idle and wanted:
                lvl = replace(lvl, side=buy, state=active)
                activated.append(lvl)
            elif lvl.state is active and lvl.side is buy and not wanted:
                lvl = replace(lvl, state=idle)
                deactivated.append(lvl)
            new_levels.append(lvl)
        if not activated and not deactivated:
            return GridUpdate(self)
        return GridUpdate(
            replace(self, levels=tuple(new_levels)), tuple(activated), tuple(deactivated)
        )

    def on_fill(self, index: int, side: OrderSide | None = None) -> GridUpdate:
        """Level `index` filled: mark it and arm the counter-order one level away.

        Without `side` the level must be ACTIVE and its side is the fill's; with
        `side` (an order that finished after its level was idled) any state is accepted.
        """
        filled = self.level(index)
        if side is None and filled.state is not LevelState.ACTIVE:
            raise ValueError(f"grid level {index} is {filled.state.value}, not ACTIVE")
        if side is not None:
            filled = replace(filled, side=side)
        step = 1 if filled.side is OrderSide.BUY else -1
        counter_index = index + step
        by_index = {lvl.index: lvl for lvl in self.levels}
        by_index[index] = replace(filled, state=LevelState.FILLED)
        activated: tuple[GridLevel, ...] = ()
        deactivated: tuple[GridLevel, ...] = ()
        if counter_index in by_index:
            previous = by_index[counter_index]
            counter = replace(previous, side=filled.side.opposite, state=LevelState.ACTIVE)
            if previous != counter:
                if previous.state is LevelState.ACTIVE:
                    deactivated = (previous,)  # its working order must be cancelled first
                by_index[counter_index] = counter
                activated = (counter,)
        levels = tuple(by_index[lvl.index] for lvl in self.levels)
        return GridUpdate(replace(self, levels=levels), activated, deactivated)
