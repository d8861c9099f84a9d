"""Event detection on indicator series: crossings, state changes, warm-up masks.

Guarantees: every function returns a bool array as long as its input; the value
at bar t reads bars t and t-1 only; any NaN among the values compared gives
False (an indicator still warming up never fires a signal). `band_crossings`
is `crossed_above` / `crossed_below` of a relative spread in one compiled pass,
with the same values; `zone_events` is the crossings and zone masks of an
oscillator against two levels in one compiled pass, with the values the
separate functions give.
"""

from __future__ import annotations

import numba
import numpy as np


def _as_pair(a: np.ndarray, b: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    left = np.asarray(a, dtype=np.float64)
    right = np.broadcast_to(np.asarray(b, dtype=np.float64), left.shape)
    return left, right


def crossed_above(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """True at t when a[t] > b[t] after a[t-1] <= b[t-1]."""
    left, right = _as_pair(a, b)
    out = np.zeros(len(left), dtype=bool)
    if len(left) > 1:
        out[1:] = (left[1:] > right[1:]) & (left[:-1] <= right[:-1])
    return out


def crossed_below(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """True at t when a[t] < b[t] after a[t-1] >= b[t-1]."""
    left, right = _as_pair(a, b)
    out = np.zeros(len(left), dtype=bool)
    if len(left) > 1:
        out[1:] = (left[1:] < right[1:]) & (left[:-1] >= right[:-1])
    return out


def became_true(state: np.ndarray) -> np.ndarray:
    """True at t when `state` holds at t but did not at t-1 (or t is bar 0)."""
    now = np.asarray(state, dtype=bool)
    out = now.copy()
    out[1:] &= ~now[:-1]
    return out


def finite(*arrays: np.ndarray) -> np.ndarray:
    """True where every array holds a finite number."""
    mask = np.ones(len(arrays[0]), dtype=bool)
    for arr in arrays:
        mask &= np.isfinite(arr)
    return mask


def exits_without_entries(exits: np.ndarray, entries: np.ndarray) -> np.ndarray:
    """`exits` cleared where an entry fires on the same bar (entry wins the tie)."""
    return np.asarray(exits, dtype=bool) & ~np.asarray(entries, dtype=bool)


@numba.njit(cache=True, error_model="numpy")
def band_crossings(
    fast: np.ndarray, slow: np.ndarray, band: float
) -> tuple[np.ndarray, np.ndarray]:
    """(crossed_above(spread, band), crossed_below(spread, -band)) of the spread
    (fast - slow) / slow, without the intermediate arrays."""
    n = fast.shape[0]
    above = np.zeros(n, dtype=np.bool_)
    below = np.zeros(n, dtype=np.bool_)
    if n > 1:
        previous = (fast[0] - slow[0]) / slow[0]
        for t in range(1, n):
            spread = (fast[t] - slow[t]) / slow[t]
            above[t] = spread > band and previous <= band
            below[t] = spread < -band and previous >= -band
            previous = spread
    return above, below


@numba.njit(cache=True, error_model="numpy")
def zone_events(
    x: np.ndarray, low: float, high: float, on_leaving: bool, shorts: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An oscillator's trades against its `low` and `high` levels, in one pass:
    (entries, exits, short_entries, short_exits, x < high, x > low), where
    entries = crossed_above(x, low) if `on_leaving` else crossed_below(x, low),
    short_entries = crossed_below(x, high) if `on_leaving` else crossed_above(x, high),
    exits = exits_without_entries(crossed_above(x, high), entries) and
    short_exits = exits_without_entries(crossed_below(x, low), short_entries); the two
    short arrays are empty unless `shorts`."""
    n = x.shape[0]
    m = n if shorts else 0
    entries, exits = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)
    short_entries, short_exits = np.zeros(m, dtype=np.bool_), np.zeros(m, dtype=np.bool_)
    below_high, above_low = np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
    previous = x[0] if n else 0.0
    for t in range(n):
        value = x[t]
        below_high[t] = value < high
        above_low[t] = value > low
        if t == 0:
            continue
        up_low = value > low and previous <= low
        down_low = value < low and previous >= low
        up_high = value > high and previous <= high
        down_high = value < high and previous >= high
        entry = up_low if on_leaving else down_low
        entries[t] = entry
        exits[t] = up_high and not entry
        if shorts:
            short_entry = down_high if on_leaving else up_high
            short_entries[t] = short_entry
            short_exits[t] = down_low and not short_entry
        previous = value
    return entries, exits, short_entries, short_exits, below_high, above_low
