"""`build_execution_plan`'s order arrays, one genome and one row at a time.

`account_simulation` reads each genome's raw signals (a row per field, where
the genome's signals lie) instead of a (bars x columns) plan. These functions
give, for the row that trades bar t + 1 on the signals of bar t, exactly the
values `build_execution_plan` puts in that row: the legs' entries and exits
after the long/short conflict resolution and the forced close on the last row,
the order in which the legs run, the stop-loss / trailing / take-profit with the
config's defaults, and the size with its type; `refused` says whether the plan
would refuse the genome's signals (both stop-losses on one bar, a size outside
(0, 1], a size granularity with stops).

Signals come as (bars,) rows; values as (1,) constants (not shifted, like the
plan's (1, columns) arrays) or (bars,) rows; NaN = none.
"""

from __future__ import annotations

import numba
import numpy as np

from backtests.engine.execution import PERCENT


@numba.njit(cache=True, inline="always")
def column_on_bar(width: int, t: int) -> int:
    """The index of a (width,) value row holding bar t: constants (width 1) are
    not shifted; -1 before bar 0 (no value, NaN). (Helpers take scalars: an array argument
    costs reference counting on every call.)"""
    return 0 if width == 1 else t


@numba.njit(cache=True, inline="always")
def value_on_bar(values: np.ndarray, t: int) -> float:
    """A (1 | bars,) value row on bar t: constants are not shifted; before bar 0 NaN."""
    column = column_on_bar(values.shape[0], t)
    return values[column] if column >= 0 else np.nan


@numba.njit(cache=True, inline="always")
def legs_on_row(
    long_entry: bool, long_exit: bool, opens_short: bool, closes_short: bool, legs: int,
    forced_close: bool,
) -> tuple[bool, bool, bool, bool, bool, bool]:
    """(long entry, long exit, short entry, short exit, long leg first, any signal) of a row
    from the raw signals of bar t (all False before bar 0; the short ones read only with
    two legs) and whether the row is the last one closed at the end."""
    short_entry = short_exit = False
    long_first = True
    if legs == 2:
        conflict = long_entry and opens_short
        long_entry = long_entry and not conflict
        opens_short = opens_short and not conflict
        long_exit = long_exit or opens_short
        short_entry, short_exit = opens_short, closes_short or long_entry
        long_first = not long_entry  # the leg that closes runs first
    if forced_close:
        long_entry = short_entry = False
        long_exit = short_exit = True
    return (long_entry, long_exit, short_entry, short_exit, long_first,
            long_entry or long_exit or short_entry or short_exit)


@numba.njit(cache=True, inline="always")
def stops_on_row(
    signal_sl: float, signal_tsl: float, take: float, default_loss: float,
    default_trail: bool, default_take: float,
) -> tuple[float, bool, float]:
    """(stop-loss, trailing, take-profit) fractions of the row (`_stop_arrays`) from the
    signals' values on bar t (NaN = none)."""
    from_signals = signal_sl if np.isnan(signal_tsl) else signal_tsl
    if np.isnan(from_signals):
        loss, trail = default_loss, default_trail
    else:
        loss, trail = from_signals, not np.isnan(signal_tsl)
    return loss, trail, default_take if np.isnan(take) else take


@numba.njit(cache=True, inline="always")
def size_on_row(fraction: float, default_size: float, default_type: int) -> tuple[float, int]:
    """(size, size type) of the row from the signals' size on bar t (NaN = the default)."""
    if np.isnan(fraction):
        return default_size, default_type
    return fraction, PERCENT


@numba.njit(cache=True)
def refused(
    start: int, stop: int, sl: np.ndarray, tsl: np.ndarray, tp: np.ndarray,
    size: np.ndarray, default_loss: float, default_take: float, granularity: float,
) -> bool:
    """Whether `build_execution_plan` would refuse a genome's signals (its value rows).
    (Cells are read directly: `value_on_bar` per bar would cost reference counting on
    every bar.)"""
    sl_bars, tsl_bars, size_bars = sl.shape[0] > 1, tsl.shape[0] > 1, size.shape[0] > 1
    # per-bar values are NaN before bar 0, constants are the same on every bar
    if not sl_bars and not tsl_bars:
        if not np.isnan(sl[0]) and not np.isnan(tsl[0]):
            return True
    else:
        for t in range(max(start - 1, 0), stop - 1):
            if not np.isnan(sl[t if sl_bars else 0]) and \
                    not np.isnan(tsl[t if tsl_bars else 0]):
                return True
    for t in range(max(start - 1, 0), stop - 1) if size_bars else range(1):
        fraction = size[t if size_bars else 0]
        if not np.isnan(fraction) and (fraction <= 0 or fraction > 1):
            return True
    if np.isnan(granularity):
        return False
    for t in range(start - 1, stop - 1):
        loss, _, take = stops_on_row(value_on_bar(sl, t), value_on_bar(tsl, t),
                                     value_on_bar(tp, t), default_loss, False, default_take)
        if not np.isnan(loss) or not np.isnan(take):
            return True
    return False
