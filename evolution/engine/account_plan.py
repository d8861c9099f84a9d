"""`build_execution_plan`'s order arrays, one genome and one row at a time.

`account_simulation` reads each genome's raw signals (genomes x bars, as
`simulation` stacks them) instead of a (bars x columns) plan. These functions
give, for the row that trades bar t + 1 on the signals of bar t, exactly the
values `build_execution_plan` puts in that row: the legs' entries and exits
after the long/short conflict resolution and the forced close on the last row,
the order in which the legs run, the stop-loss / trailing / take-profit with the
config's defaults, and the size with its type; `refused` says whether the plan
would refuse the genome's signals (both stop-losses on one bar, a size outside
(0, 1], a size granularity with stops).

Signals come as (genomes, bars) arrays; values as (genomes, 1) constants (not
shifted, like the plan's (1, columns) arrays) or (genomes, bars); NaN = none.
"""

from __future__ import annotations

import numba
import numpy as np

from backtests.engine.execution import PERCENT


@numba.njit(cache=True, inline="always")
def value_on_bar(values: np.ndarray, g: int, t: int) -> float:
    """A (genomes, 1 | bars) value on bar t: constants are not shifted; before bar 0 NaN."""
    if values.shape[1] == 1:
        return values[g, 0]
    return values[g, t] if t >= 0 else np.nan


@numba.njit(cache=True, inline="always")
def legs_on_row(
    g: int, t: int, last: bool, entries: np.ndarray, exits: np.ndarray,
    short_entries: np.ndarray, short_exits: np.ndarray, legs: int, close_at_end: bool,
) -> tuple[bool, bool, bool, bool, bool, bool]:
    """(long entry, long exit, short entry, short exit, long leg first, any signal) of the
    row trading on the signals of bar t (`build_execution_plan`'s legs)."""
    long_entry = entries[g, t] if t >= 0 else False
    long_exit = exits[g, t] if t >= 0 else False
    short_entry = short_exit = False
    long_first = True
    if legs == 2:
        opens_short = short_entries[g, t] if t >= 0 else False
        closes_short = short_exits[g, t] if t >= 0 else False
        conflict = long_entry and opens_short
        long_entry = long_entry and not conflict
        opens_short = opens_short and not conflict
        long_exit = long_exit or opens_short
        short_entry, short_exit = opens_short, closes_short or long_entry
        long_first = not long_entry  # the leg that closes runs first
    if close_at_end and last:
        long_entry = short_entry = False
        long_exit = short_exit = True
    return (long_entry, long_exit, short_entry, short_exit, long_first,
            long_entry or long_exit or short_entry or short_exit)


@numba.njit(cache=True, inline="always")
def stops_on_row(
    g: int, t: int, sl: np.ndarray, tsl: np.ndarray, tp: np.ndarray, default_loss: float,
    default_trail: bool, default_take: float,
) -> tuple[float, bool, float]:
    """(stop-loss, trailing, take-profit) fractions of the row (`_stop_arrays`)."""
    signal_sl, signal_tsl = value_on_bar(sl, g, t), value_on_bar(tsl, g, t)
    from_signals = signal_sl if np.isnan(signal_tsl) else signal_tsl
    if np.isnan(from_signals):
        loss, trail = default_loss, default_trail
    else:
        loss, trail = from_signals, not np.isnan(signal_tsl)
    take = value_on_bar(tp, g, t)
    return loss, trail, default_take if np.isnan(take) else take


@numba.njit(cache=True, inline="always")
def size_on_row(g: int, t: int, size: np.ndarray, default_size: float,
                 default_type: int) -> tuple[float, int]:
    fraction = value_on_bar(size, g, t)
    if np.isnan(fraction):
        return default_size, default_type
    return fraction, PERCENT


@numba.njit(cache=True)
def refused(
    g: int, start: int, stop: int, sl: np.ndarray, tsl: np.ndarray, tp: np.ndarray,
    size: np.ndarray, default_loss: float, default_take: float, granularity: float,
) -> bool:
    """Whether `build_execution_plan` would refuse the genome's signals."""
    both_constant = sl.shape[1] == 1 and tsl.shape[1] == 1
    for t in range(start - 1, start if both_constant else stop - 1):
        if not np.isnan(value_on_bar(sl, g, t)) and not np.isnan(value_on_bar(tsl, g, t)):
            return True
    for t in range(start - 1, start if size.shape[1] == 1 else stop - 1):
        fraction = value_on_bar(size, g, t)
        if not np.isnan(fraction) and (fraction <= 0 or fraction > 1):
            return True
    if np.isnan(granularity):
        return False
    for t in range(start - 1, stop - 1):
        loss, _, take = stops_on_row(g, t, sl, tsl, tp, default_loss, False, default_take)
        if not np.isnan(loss) or not np.isnan(take):
            return True
    return False
