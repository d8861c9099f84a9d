"""Turn signal matrices into the order arrays the simulator executes.

Guarantees (the fill-timing contract of every vectorised backtest here):
- a signal on bar t fills at bar t+1's open: execution row r of a plan over
  bars [start, stop) carries the signal of bar start + r - 1; a signal on the
  final bar is never traded;
- with `close_at_end` the last row closes every open position at the final
  bar's open and opens nothing;
- long and short (when the config allows shorts and the strategy gives short
  signals) run as two legs of one cash-sharing account: a long leg and a short
  leg per parameter set. A short entry closes the long leg and opens the short
  leg on the same bar (the closing leg always executes first); long and short
  entries on the same bar cancel each other;
- stops and sizes given per bar are shifted with the signals, so the values of
  the signal bar apply to the fill;
- `Sizing.granularity` rounds entries only (exits always close the whole position).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numba
import numpy as np

from backtests.engine.batch_signals import BatchSignals
from backtests.engine.config import BacktestConfig


@numba.njit(cache=True)
def _rows_with_signals(entries: np.ndarray, exits: np.ndarray) -> np.ndarray:
    out = np.zeros(entries.shape[0], dtype=np.bool_)
    for t in range(entries.shape[0]):
        for j in range(entries.shape[1]):
            if entries[t, j] or exits[t, j]:
                out[t] = True
                break
    return out


LONG_ONLY, SHORT_ONLY = 0, 1  # vectorbt Direction codes
AMOUNT, VALUE, PERCENT = 0, 1, 2  # vectorbt SizeType codes
SIZE_TYPE_OF_MODE = {"units": AMOUNT, "cash": VALUE, "fraction": PERCENT}


@dataclass(frozen=True, eq=False)
class ExecutionPlan:
    """Execution-aligned order arrays of one simulation (C-ordered 2-D arrays)."""

    entries: np.ndarray  # (n, cols) bool
    exits: np.ndarray  # (n, cols) bool
    direction: np.ndarray  # (1, cols) int64
    group_lens: np.ndarray  # (groups,) int64: 1 (one leg) or 2 (long + short legs)
    call_seq: np.ndarray  # (n, cols) int64: per-row processing order inside a group
    size: np.ndarray  # (1 | n, 1 | cols) float64
    size_type: np.ndarray  # same shape as size, int64
    granularity: np.ndarray  # (1 | n, 1 | cols) float64, NaN = none
    sl_stop: np.ndarray  # (1 | n, 1 | cols) float64, NaN = none
    sl_trail: np.ndarray  # same shape as sl_stop, bool
    tp_stop: np.ndarray  # (1 | n, 1 | cols) float64, NaN = none
    legs: int
    forced_exit: bool

    @property
    def n_bars(self) -> int:
        return int(self.entries.shape[0])

    @property
    def n_columns(self) -> int:
        return int(self.entries.shape[1])

    @property
    def n_groups(self) -> int:
        return len(self.group_lens)

    @property
    def use_stops(self) -> bool:
        return bool(np.any(~np.isnan(self.sl_stop)) or np.any(~np.isnan(self.tp_stop)))

    def max_orders(self) -> int:
        """Upper bound of orders: each fill is an entry or closes a position an entry opened."""
        return 2 * int(np.count_nonzero(self.entries)) + 1

    def active_rows(self) -> np.ndarray:
        """Rows where some column has an entry or exit signal (the only rows an order can
        fill on when no stops are set)."""
        return np.flatnonzero(_rows_with_signals(self.entries, self.exits))

    def take_rows(self, rows: np.ndarray) -> ExecutionPlan:
        """The plan restricted to `rows` (per-row arrays sliced, per-column ones kept)."""
        n = self.n_bars

        def take(values: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(values[rows]) if values.shape[0] == n else values

        fields = ("entries", "exits", "call_seq", "size", "size_type", "granularity",
                  "sl_stop", "sl_trail", "tp_stop")
        sliced: dict[str, Any] = {name: take(getattr(self, name)) for name in fields}
        return replace(self, **sliced)


def shift_to_fills(values: np.ndarray, start: int, stop: int, fill: float | bool) -> np.ndarray:
    """Rows [start, stop) of `values` shifted one bar later (row r gets bar start + r - 1)."""
    if values.shape[0] == 1:
        return values
    out = np.empty((stop - start, values.shape[1]), dtype=values.dtype)
    if start == 0:
        out[0] = fill
        out[1:] = values[: stop - 1]
    else:
        out[:] = values[start - 1 : stop - 1]
    return out


def _interleave(long_leg: np.ndarray, short_leg: np.ndarray) -> np.ndarray:
    out = np.empty((long_leg.shape[0], 2 * long_leg.shape[1]), dtype=long_leg.dtype)
    out[:, 0::2] = long_leg
    out[:, 1::2] = short_leg
    return out


def _per_leg(values: np.ndarray, legs: int) -> np.ndarray:
    return values if legs == 1 or values.shape[1] == 1 else np.repeat(values, legs, axis=1)


def _constant(value: float, dtype: type = np.float64) -> np.ndarray:
    return np.full((1, 1), value, dtype=dtype)


def _signal_legs(
    signals: BatchSignals, shorts: bool, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(entries, exits, direction, call_seq or None) for one or two legs."""
    long_entries = shift_to_fills(signals.entries, start, stop, False)
    long_exits = shift_to_fills(signals.exits, start, stop, False)
    k = signals.n_columns
    if not shorts:
        return long_entries, long_exits, np.full((1, k), LONG_ONLY, dtype=np.int64), None
    zeros = np.zeros_like(signals.entries)
    short_entries = shift_to_fills(
        signals.short_entries if signals.short_entries is not None else zeros, start, stop, False
    )
    short_exits = shift_to_fills(
        signals.short_exits if signals.short_exits is not None else zeros, start, stop, False
    )
    conflict = long_entries & short_entries
    long_entries = long_entries & ~conflict
    short_entries = short_entries & ~conflict
    entries = _interleave(long_entries, short_entries)
    exits = _interleave(long_exits | short_entries, short_exits | long_entries)
    direction = np.tile(np.array([[LONG_ONLY, SHORT_ONLY]], dtype=np.int64), (1, k))
    # The leg that closes runs first so the one that opens sees the released cash.
    call_seq = _interleave(long_entries.astype(np.int64), (~long_entries).astype(np.int64))
    return entries, exits, direction, call_seq


def _stop_arrays(
    signals: BatchSignals, config: BacktestConfig, start: int, stop: int, legs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    def resolved(name: str, default: float | None) -> np.ndarray:
        given = getattr(signals, name)
        fallback = np.nan if default is None else default
        if given is None:
            return _constant(fallback)
        arr = shift_to_fills(np.asarray(given, dtype=np.float64), start, stop, np.nan)
        return np.where(np.isnan(arr), fallback, arr) if default is not None else arr

    signal_sl = resolved("sl_stop", None)
    signal_tsl = resolved("tsl_stop", None)
    if np.any(~np.isnan(signal_sl) & ~np.isnan(signal_tsl)):
        raise ValueError("signals give both sl_stop and tsl_stop on one bar (one stop-loss slot)")
    default_loss = config.tsl_stop if config.tsl_stop is not None else config.sl_stop
    default_trail = config.tsl_stop is not None
    from_signals = np.where(np.isnan(signal_tsl), signal_sl, signal_tsl)
    sl = np.where(np.isnan(from_signals), np.nan if default_loss is None else default_loss,
                  from_signals)
    trail = np.where(np.isnan(from_signals), default_trail, ~np.isnan(signal_tsl))
    tp = resolved("tp_stop", config.tp_stop)
    return (
        np.ascontiguousarray(_per_leg(np.atleast_2d(sl), legs)),
        np.ascontiguousarray(_per_leg(np.atleast_2d(trail), legs)),
        np.ascontiguousarray(_per_leg(np.atleast_2d(tp), legs)),
    )


def _size_arrays(
    signals: BatchSignals, config: BacktestConfig, start: int, stop: int, legs: int
) -> tuple[np.ndarray, np.ndarray]:
    default_type = SIZE_TYPE_OF_MODE[config.sizing.mode]
    if signals.size is None:
        return _constant(config.sizing.value), _constant(default_type, np.int64)
    fraction = shift_to_fills(np.asarray(signals.size, dtype=np.float64), start, stop, np.nan)
    if np.any(~np.isnan(fraction) & ((fraction <= 0) | (fraction > 1))):
        raise ValueError("Signals.size must be a fraction of equity in (0, 1] or NaN")
    size = np.where(np.isnan(fraction), config.sizing.value, fraction)
    size_type = np.where(np.isnan(fraction), default_type, PERCENT).astype(np.int64)
    return (
        np.ascontiguousarray(_per_leg(size, legs)),
        np.ascontiguousarray(_per_leg(size_type, legs)),
    )


def build_execution_plan(
    signals: BatchSignals, config: BacktestConfig, *, start: int = 0, stop: int | None = None
) -> ExecutionPlan:
    """The plan that trades bars [start, stop) on `signals` (computed on bars [0, >= stop))."""
    stop = signals.n_bars if stop is None else stop
    if not 0 <= start < stop <= signals.n_bars:
        raise ValueError(f"invalid bar range [{start}, {stop}) for {signals.n_bars} signal bars")
    if stop - start < 2:
        raise ValueError("a backtest needs at least two bars (signals fill on the next bar)")
    shorts = config.allow_short and signals.has_shorts
    legs = 2 if shorts else 1
    entries, exits, direction, call_seq = _signal_legs(signals, shorts, start, stop)
    entries = np.ascontiguousarray(entries)
    exits = np.ascontiguousarray(exits)
    if config.close_at_end:
        entries[-1] = False
        exits[-1] = True
    sl, trail, tp = _stop_arrays(signals, config, start, stop, legs)
    size, size_type = _size_arrays(signals, config, start, stop, legs)
    granularity = _constant(np.nan)
    if config.sizing.granularity is not None:
        if np.any(~np.isnan(sl)) or np.any(~np.isnan(tp)):
            raise ValueError("Sizing.granularity cannot be combined with stop orders")
        granularity = np.where(entries, config.sizing.granularity, np.nan)
    if call_seq is None:
        call_seq = np.zeros(entries.shape, dtype=np.int64)  # unread without cash sharing
    return ExecutionPlan(
        entries=entries,
        exits=exits,
        direction=direction,
        group_lens=np.full(signals.n_columns, legs, dtype=np.int64),
        call_seq=np.ascontiguousarray(call_seq),
        size=size,
        size_type=size_type,
        granularity=np.ascontiguousarray(granularity),
        sl_stop=sl,
        sl_trail=trail,
        tp_stop=tp,
        legs=legs,
        forced_exit=config.close_at_end,
    )
