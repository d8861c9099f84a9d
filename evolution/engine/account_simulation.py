"""Each genome's account on one instrument, simulated from its raw signals in one compiled pass.

The backtest engine turns a batch of signals into (bars x columns) order arrays
(`build_execution_plan`) and hands them to vectorbt's generic
`simulate_from_signals_nb`, which visits every bar of every column. For the
GA's thousands of one-genome accounts that generic path costs ~70 ns per bar;
this module is the same simulation specialised to the arguments the backtest
engine passes (`backtests.engine.simulator`), reading each genome's signals
directly and visiting only the bars where something can happen.

Guarantees, for every genome of a batch (bit for bit what `build_execution_plan`
+ `simulate` + `replay` of `simulation.simulate_columns` give it):
- execution row r trades bar start + r on the signals of bar start + r - 1;
  long and short legs, their conflicts, the processing order of a bar (the
  closing leg first), the forced close on the last row, the stop and size
  resolution with the config's defaults are those of `build_execution_plan`;
- the row logic is vectorbt's own: the same helper functions
  (`get_stop_price_nb`, `signals_to_size_nb`, the conflict resolvers,
  `execute_order_nb`, ...) called with the same values in the same order, so
  fills, fees and cash are vectorbt's arithmetic (`process_order_nb`'s record
  and state bookkeeping is written out here, on scalars);
- a row is skipped only when no leg can order on it: no stop is hit (stops are
  still checked and trailed on every row a position is open) and no leg has an
  entry while flat or an exit while open (vectorbt then places no order and
  changes no state a later row reads: the backtest engine's `skip_idle_rows`
  argument, extended to stops and to signals that cannot act);
- the order records are replayed by the backtest engine's own `replay`;
- a genome whose signals `build_execution_plan` would refuse (a stop-loss and
  a trailing stop on one bar, a size outside (0, 1], a size granularity with
  stops) is not simulated: its status says so and the caller redoes it through
  the backtest engine to get the engine's own error.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic
from vectorbt.portfolio.enums import (
    AccumulationMode,
    ConflictMode,
    Direction,
    DirectionConflictMode,
    OppositeEntryMode,
    OrderStatus,
    ProcessOrderState,
    StopExitMode,
    order_dt,
)
from vectorbt.portfolio.nb import (
    execute_order_nb,
    generate_stop_signal_nb,
    get_stop_price_nb,
    order_nb,
    resolve_dir_conflict_nb,
    resolve_opposite_entry_nb,
    resolve_signal_conflict_nb,
    resolve_stop_price_and_slippage_nb,
    signals_to_size_nb,
)

from backtests.engine.simulator import STOP_EXIT_AS_MARKET
from evolution.engine.account_plan import (
    column_on_bar,
    legs_on_row,
    refused,
    size_on_row,
    stops_on_row,
)

SIMULATED, REFUSED, NOT_FINITE = 0, 1, 2  # status of a genome


SL_PRICE, SL_STOP, TP_PRICE, TP_STOP = 0, 1, 2, 3  # a leg's stop state (vectorbt's sl_curr_*,
# tp_init_price, tp_curr_stop; the bar indices vectorbt also keeps are never read)


@numba.njit(cache=True)
def _stops_after_fill(
    sl_price: float, sl_stop: float, tp_price: float, tp_stop: float, trailing: bool,
    before: float, after: float, fill_price: float, loss: float, trail: bool, take: float,
) -> tuple[float, float, float, float, bool]:
    """A leg's stops (sl price, sl stop, tp price, tp stop, trailing) after a fill: vectorbt's
    bookkeeping (stops from the fill price, Override mode). Scalars in and out, like every
    helper of this module: an array argument costs atomic reference counting per call."""
    if after == 0:  # closed: disarm
        return np.nan, np.nan, np.nan, np.nan, False
    if before == 0 or np.sign(after) != np.sign(before):  # opened or reversed: arm
        return fill_price, loss, fill_price, take, trail
    if abs(after) > abs(before):  # increased: override the stops given
        if not np.isnan(loss):
            sl_price, sl_stop, trailing = fill_price, loss, trail
        if not np.isnan(take):
            tp_price, tp_stop = fill_price, take
    return sl_price, sl_stop, tp_price, tp_stop, trailing


@numba.njit(cache=True)
def _stop_price(
    sl_price: float, sl_stop: float, tp_price: float, tp_stop: float, trail: bool,
    position: float, bar_open: float, bar_high: float, bar_low: float, bar_close: float,
) -> tuple[float, float]:
    """(the price an armed stop of a leg exits at on this bar (NaN: not hit), its stop-loss
    price trailed). Scalars in and out: an array argument would cost reference counting on
    every bar a position is open (several times the test itself)."""
    if np.isnan(bar_open):
        bar_open = bar_close
    if np.isnan(bar_low):
        bar_low = min(bar_open, bar_close)
    if np.isnan(bar_high):
        bar_high = max(bar_open, bar_close)
    price = np.nan
    if not np.isnan(sl_stop):
        price = get_stop_price_nb(position, sl_price, sl_stop, bar_open, bar_low, bar_high, True)
    if np.isnan(price) and not np.isnan(tp_stop):
        price = get_stop_price_nb(position, tp_price, tp_stop, bar_open, bar_low, bar_high,
                                  False)
    if not np.isnan(sl_stop) and trail:
        if position > 0 and bar_high > sl_price:
            sl_price = bar_high
        elif position < 0 and bar_low < sl_price:
            sl_price = bar_low
    return price, sl_price


@numba.njit(cache=True, inline="always")
def _places_order(position: float, entry: bool, exit_: bool) -> bool:
    """Whether a leg (long-only or short-only, no accumulation, conflicts ignored) orders on
    its signals: an entry opens it when flat, an exit closes it when open; an entry and an
    exit on one bar cancel (vectorbt's `signals_to_size_nb` with the engine's settings)."""
    if entry and exit_:
        return False
    return entry if position == 0 else exit_


@numba.njit(cache=True)
def _leg_order(
    position: float, entry: bool, exit_: bool, direction: int, size: float, size_type: int,
    val_price: float, stop_price: float, price: float, close: float, slippage: float,
) -> tuple[float, int, int, float, float]:
    """(size, size type, direction, price, slippage) of the leg's order on a row (vectorbt's
    signal resolution with the backtest engine's settings)."""
    accumulate = AccumulationMode.Disabled
    if not np.isnan(stop_price):
        long_entry, long_exit, short_entry, short_exit, accumulate = generate_stop_signal_nb(
            position, StopExitMode.Close, accumulate)
        price, slippage = resolve_stop_price_and_slippage_nb(
            stop_price, price, close, slippage, STOP_EXIT_AS_MARKET)
    else:
        long_entry = long_exit = short_entry = short_exit = False
        if entry or exit_:
            if direction == Direction.LongOnly:
                long_entry, long_exit = entry, exit_
            else:
                short_entry, short_exit = entry, exit_
        if long_entry or short_entry:
            long_entry, long_exit = resolve_signal_conflict_nb(
                position, long_entry, long_exit, Direction.LongOnly, ConflictMode.Ignore)
            short_entry, short_exit = resolve_signal_conflict_nb(
                position, short_entry, short_exit, Direction.ShortOnly, ConflictMode.Ignore)
            long_entry, short_entry = resolve_dir_conflict_nb(
                position, long_entry, short_entry, DirectionConflictMode.Ignore)
            long_entry, long_exit, short_entry, short_exit, accumulate = \
                resolve_opposite_entry_nb(position, long_entry, long_exit, short_entry,
                                          short_exit, OppositeEntryMode.ReverseReduce, accumulate)
    order_size, order_type, order_direction = signals_to_size_nb(
        position, long_entry, long_exit, short_entry, short_exit, size, size_type, accumulate,
        val_price)
    return order_size, order_type, order_direction, price, slippage


POSITION, DEBT, VAL_PRICE = 0, 1, 2  # a leg's state besides its stops


@numba.njit(cache=True)
def _next_entry_row(
    entries: np.ndarray, short_entries: np.ndarray, start: int, t: int, until: int, legs: int,
) -> int:
    """The first row before `until` trading on a bar t' >= t with an entry (a short entry
    with two legs), else `until`: while flat with no stop armed, the rows before it are
    idle (found by a scan of the entries instead of the whole row test on every bar)."""
    last = start + until - 1  # the bar the row `until` trades on
    while t < last:
        if entries[t] or (legs == 2 and short_entries[t]):
            return t - start + 1
        t += 1
    return until


@numba.njit(cache=True)
def _execute(
    amount: float, size_type: int, direction: int, price: float, slippage: float, fees: float,
    granularity: float, cash: float, position: float, debt: float, free_cash: float,
    val_price: float, value: float,
) -> tuple[bool, float, float, float, float, float, float, float, int]:
    """One leg's order as vectorbt's `process_order_nb` executes it (its own
    `execute_order_nb`, with the engine's order settings: no fixed fees, no minimum or
    maximum size, no cash lock, partial fills, no rejection raised, no log, value not
    updated): (filled, cash, position, debt, free cash after it, and the fill's size, price,
    fees and side). Scalars only: the caller writes the order record."""
    if direction == Direction.ShortOnly:
        amount *= -1
    order = order_nb(amount, price, size_type, direction, fees, 0.0, slippage, 0.0, np.inf,
                     granularity, 0.0, False, True, False, False)
    after, result = execute_order_nb(
        ProcessOrderState(cash, position, debt, free_cash, val_price, value, 0, 0), order)
    return (result.status == OrderStatus.Filled, after.cash, after.position, after.debt,
            after.free_cash, result.size, result.price, result.fees, result.side)


@numba.njit(cache=True)
def _simulate_account(
    start: int, stop: int, entries: np.ndarray, exits: np.ndarray,
    short_entries: np.ndarray, short_exits: np.ndarray, size: np.ndarray, sl: np.ndarray,
    tsl: np.ndarray, tp: np.ndarray, settings: np.ndarray, legs: int, close_at_end: bool,
    default_trail: bool, default_type: int, open_: np.ndarray, high: np.ndarray,
    low: np.ndarray, close: np.ndarray, records: np.ndarray,
) -> int:
    """Fill `records` with a genome's orders (row = bar - start, column = leg); their count.

    Its signals are (stop,) bool rows, its values (1 | stop,) float rows (a constant, or
    one value per bar; NaN = none).

    `settings` = (default stop-loss, default take-profit, default size, size granularity,
    fee, slippage, initial cash), NaN for the stops and granularity not set.

    The state lives in small local arrays read and written here only, and every helper
    takes and returns scalars: passing an array to a function, even an inlined one, costs
    atomic reference counting, which was half the time of a row with orders."""
    state = np.zeros((legs, 3))
    state[:, VAL_PRICE] = np.nan
    stops, trailing = np.full((legs, 4), np.nan), np.zeros(legs, np.bool_)
    cash = free_cash = settings[6]
    count = 0
    stop_price = np.empty(legs)
    entry, exit_ = np.zeros(2, np.bool_), np.zeros(2, np.bool_)
    amount, size_type, direction = np.zeros(legs), np.zeros(legs, np.int64), np.zeros(legs, np.int64)
    price, slippage = np.zeros(legs), np.zeros(legs)
    last_row = stop - start - 1
    armed = False
    resume = 0  # rows before it are idle: flat, no stop armed, no entry
    for i in range(stop - start):
        if i < resume:
            continue
        t = start + i - 1
        # whether a leg can order on the raw signals of bar t (a stop aside): a flat leg
        # only on an entry, an open one only on an exit; after `legs_on_row` a long entry
        # is a raw entry, a long exit a raw exit or short entry, a short entry a raw short
        # entry, a short exit a raw short exit or entry. When none can, `_places_order` is
        # False for every leg: the row is idle unless a stop is hit (so are most bars of an
        # exit that is a state, such as a close below a line). Written out: as a function
        # call numba compiles this test several times slower.
        signal = close_at_end and i == last_row
        if not signal and t >= 0:
            if state[0, POSITION] == 0:
                signal = entries[t]
            else:
                signal = exits[t] or (legs == 2 and short_entries[t])
            if not signal and legs == 2:
                if state[1, POSITION] == 0:
                    signal = short_entries[t]
                else:
                    signal = short_exits[t] or entries[t]
        if not signal and not armed:
            if state[0, POSITION] == 0 and (legs == 1 or state[1, POSITION] == 0):
                resume = _next_entry_row(entries, short_entries, start, t + 1,
                                         last_row if close_at_end else last_row + 1, legs)
            continue  # no signal, no stop armed: nothing can happen on this bar
        b = start + i
        acts = False
        for leg in range(legs):  # each leg's stop first (vectorbt checks, then trails it)
            hit = np.nan
            if not np.isnan(stops[leg, SL_STOP]) or not np.isnan(stops[leg, TP_STOP]):
                hit, stops[leg, SL_PRICE] = _stop_price(
                    stops[leg, SL_PRICE], stops[leg, SL_STOP], stops[leg, TP_PRICE],
                    stops[leg, TP_STOP], trailing[leg], state[leg, POSITION], open_[b],
                    high[b], low[b], close[b])
                acts = acts or not np.isnan(hit)
            stop_price[leg] = hit
        if not signal and not acts:
            continue  # stops trailed, none hit, no signal: no order on this bar
        raw_entry, raw_exit = t >= 0 and entries[t], t >= 0 and exits[t]
        raw_short_entry = legs == 2 and t >= 0 and short_entries[t]
        raw_short_exit = legs == 2 and t >= 0 and short_exits[t]
        entry[0], exit_[0], entry[1], exit_[1], long_first, _ = legs_on_row(
            raw_entry, raw_exit, raw_short_entry, raw_short_exit, legs,
            close_at_end and i == last_row)
        for leg in range(legs):
            acts = acts or _places_order(state[leg, POSITION], entry[leg], exit_[leg])
        if not acts:
            continue  # an entry while open, an exit while flat, or both: vectorbt ignores them
        k_sl, k_tsl = column_on_bar(sl.shape[0], t), column_on_bar(tsl.shape[0], t)
        k_tp, k_size = column_on_bar(tp.shape[0], t), column_on_bar(size.shape[0], t)
        loss, trail, take = stops_on_row(
            sl[k_sl] if k_sl >= 0 else np.nan, tsl[k_tsl] if k_tsl >= 0 else np.nan,
            tp[k_tp] if k_tp >= 0 else np.nan, settings[0], default_trail, settings[1])
        row_size, row_type = size_on_row(size[k_size] if k_size >= 0 else np.nan,
                                         settings[2], default_type)
        # vectorbt's row of a group: valuation prices, each leg's order (size, size type,
        # direction, price, slippage), then the orders processed in the row's call order
        # (cash shared by the legs)
        if not np.isnan(open_[b]):
            for leg in range(legs):
                state[leg, VAL_PRICE] = open_[b]
        for leg in range(legs):
            amount[leg] = 0.0
            if not (entry[leg] or exit_[leg]) and np.isnan(stop_price[leg]):
                continue  # no signal, no stop: vectorbt sizes the leg's order 0 (none placed)
            amount[leg], size_type[leg], direction[leg], price[leg], slippage[leg] = _leg_order(
                state[leg, POSITION], entry[leg], exit_[leg],
                Direction.LongOnly if leg == 0 else Direction.ShortOnly, row_size, row_type,
                state[leg, VAL_PRICE], stop_price[leg], open_[b], close[b], settings[5])
        value = cash
        if legs > 1:
            for leg in range(legs):
                if state[leg, POSITION] != 0:
                    value += state[leg, POSITION] * state[leg, VAL_PRICE]
        for k in range(legs):
            leg = k if long_first else legs - 1 - k
            if legs == 1 and state[leg, POSITION] != 0:
                value = cash + state[leg, POSITION] * state[leg, VAL_PRICE]
            if amount[leg] == 0:
                continue
            before = state[leg, POSITION]
            filled, cash, state[leg, POSITION], state[leg, DEBT], free_cash, fill_size, \
                fill_price, fees, side = _execute(
                    amount[leg], size_type[leg], direction[leg], price[leg], slippage[leg],
                    settings[4], settings[3] if entry[leg] else np.nan, cash, before,
                    state[leg, DEBT], free_cash, state[leg, VAL_PRICE], value)
            if filled:
                if count >= records.shape[0]:
                    raise IndexError("order_records index out of range")
                record = records[count]
                record["id"], record["col"], record["idx"] = count, leg, i
                record["size"], record["price"], record["fees"], record["side"] = \
                    fill_size, fill_price, fees, side
                count += 1
                stops[leg, SL_PRICE], stops[leg, SL_STOP], stops[leg, TP_PRICE], \
                    stops[leg, TP_STOP], trailing[leg] = _stops_after_fill(
                        stops[leg, SL_PRICE], stops[leg, SL_STOP], stops[leg, TP_PRICE],
                        stops[leg, TP_STOP], trailing[leg], before, state[leg, POSITION],
                        fill_price, loss, trail, take)
        armed = False
        for leg in range(legs):
            armed = armed or not np.isnan(stops[leg, SL_STOP]) or not np.isnan(stops[leg, TP_STOP])
    return count


@numba.njit(cache=True)
def _held_returns(
    returns: np.ndarray, first: int, until: int, close: np.ndarray, start: int, cash: float,
    long_units: float, short_units: float, legs: int, previous: float,
) -> tuple[float, bool]:
    """Returns of rows [first, until), where no fill happens, the positions fixed: each row's
    equity as `_replay_returns` defines it over the previous one, less 1. (The equity of row
    k - 1 is recomputed, the same floats, so that the rows are independent and the loop
    compiles to vector instructions.) (equity of the last row, every return finite)."""
    if first >= until:
        return previous, True
    flat = long_units == 0.0 and (legs == 1 or short_units == 0.0)
    if flat and previous > 0 and np.isfinite(previous):
        returns[first:until] = 0.0  # x / x - 1.0 is exactly 0.0 for a finite x > 0
        return previous, True
    if legs == 1 and flat:  # flat: the equity stays what it was (0 or not finite here)
        for k in range(first, until):
            returns[k] = previous / previous - 1.0
        return previous, np.isfinite(returns[first])
    poison = 0.0  # stays 0.0 unless a return is NaN or infinite (then 0 * it is NaN)
    if legs == 1:
        returns[first] = (cash + long_units * close[start + first]) / previous - 1.0
        poison += returns[first] * 0.0
        for k in range(first + 1, until):
            returns[k] = (cash + long_units * close[start + k]) / \
                (cash + long_units * close[start + k - 1]) - 1.0
            poison += returns[k] * 0.0
        return cash + long_units * close[start + until - 1], poison == 0.0
    long_on, short_on = long_units != 0.0, short_units != 0.0
    for k in range(first, until):
        equity = cash
        equity += long_units * close[start + k] if long_on else 0.0
        equity += short_units * close[start + k] if short_on else 0.0
        returns[k] = equity / previous - 1.0
        poison += returns[k] * 0.0
        previous = equity
    return previous, poison == 0.0


@numba.njit(cache=True)
def _replay_returns(
    records: np.ndarray, count: int, legs: int, start: int, close: np.ndarray,
    init_cash: float, years: float, returns: np.ndarray,
) -> tuple[int, float, bool]:
    """One genome's per-bar `returns` from its order records: (closed trades, turnover,
    every return finite).

    The equity is the backtest engine's `replay` (`_replay_single` for one leg,
    `_replay_group` for two), operation for operation: each fill moves cash by
    -(size * price + fees) (buy) or size * price - fees (sell); a leg whose position
    falls within 1e-12 of the fill's size is flat and closes a trade; equity is
    cash plus the open legs at the bar's close (with one leg, a flat account's equity
    stays what it was between fills). Rows between fills go through `_held_returns`."""
    position = np.zeros(2)
    cash = previous = init_cash
    trades = 0
    traded = 0.0  # the fills' value over the equity before them, in record order
    p = 0
    finite = True
    i = 0
    n = returns.shape[0]
    while i < n:
        fill_row = records[p]["idx"] if p < count else n
        previous, held_finite = _held_returns(returns, i, fill_row, close, start, cash,
                                              position[0], position[1], legs, previous)
        finite = finite and held_finite
        if fill_row >= n:
            break
        i = fill_row
        while p < count and records[p]["idx"] == i:
            leg, size = records[p]["col"], records[p]["size"]
            value = size * records[p]["price"]
            traded += value / previous if previous > 0 else 0.0
            if records[p]["side"] == 0:
                cash += -(value + records[p]["fees"])
                position[leg] += size
            else:
                cash += value - records[p]["fees"]
                position[leg] += -size
            if abs(position[leg]) <= 1e-12 * size:
                position[leg] = 0.0
                trades += 1
            p += 1
        if legs == 1:
            equity = cash + position[0] * close[start + i]
        else:
            equity = cash
            for leg in range(legs):
                equity += position[leg] * close[start + i] if position[leg] != 0.0 else 0.0
        returns[i] = equity / previous - 1.0
        finite = finite and np.isfinite(returns[i])
        previous = equity
        i += 1
    return trades, traded / years, finite


def _pointer_at(dtype: types.Type) -> Any:
    """A compiled-code intrinsic: the int64 raw address of `dtype` values as a pointer to
    them (for `numba.carray`)."""

    def typer(typingctx: Any, address: Any) -> Any:
        signature = types.CPointer(dtype)(types.int64)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return builder.inttoptr(args[0], context.get_value_type(sig.return_type))

        return signature, codegen

    return intrinsic(typer)


_bool_row_at = _pointer_at(types.boolean)
_float_row_at = _pointer_at(types.float64)


@numba.njit(cache=True)
def simulate_accounts(
    start: int, stop: int, flag_rows: np.ndarray, value_rows: np.ndarray,
    value_widths: np.ndarray, settings: np.ndarray, legs: int, close_at_end: bool,
    default_trail: bool, default_type: int, years: float, open_: np.ndarray,
    high: np.ndarray, low: np.ndarray, close: np.ndarray, out_rows: np.ndarray,
    returns_out: np.ndarray, trades_out: np.ndarray, turnover_out: np.ndarray,
    status_out: np.ndarray,
) -> None:
    """Simulate every genome of a batch over bars [start, stop) (module docstring).

    The genomes' signals are read where they lie, not copied into one matrix first:
    `flag_rows[g]` holds the addresses of genome g's entries, exits, short entries and
    short exits, each `stop` C-contiguous bools; `value_rows[g]` those of its size,
    stop-loss, trailing stop and take-profit, each `value_widths[g, k]` C-contiguous
    float64 values (1: a constant, `stop`: one per bar; NaN = none). The caller keeps those
    arrays alive and unchanged through the call. Short signals are read only with two
    legs. Prices are the bars [0, stop). Genome g's returns over the bars go to row
    `out_rows[g]` of `returns_out`, its closed trades, turnover (traded value / equity
    per `years`) and status to the same index of the other outputs."""
    rows = stop - start
    records = np.empty(rows * legs + 1, dtype=order_dt)  # at most one order per leg and row
    default_loss, default_take, granularity = settings[0], settings[1], settings[3]
    for g in range(out_rows.shape[0]):
        row = out_rows[g]
        entries = numba.carray(_bool_row_at(flag_rows[g, 0]), stop)
        exits = numba.carray(_bool_row_at(flag_rows[g, 1]), stop)
        short_entries = numba.carray(_bool_row_at(flag_rows[g, 2]), stop)
        short_exits = numba.carray(_bool_row_at(flag_rows[g, 3]), stop)
        size = numba.carray(_float_row_at(value_rows[g, 0]), value_widths[g, 0])
        sl = numba.carray(_float_row_at(value_rows[g, 1]), value_widths[g, 1])
        tsl = numba.carray(_float_row_at(value_rows[g, 2]), value_widths[g, 2])
        tp = numba.carray(_float_row_at(value_rows[g, 3]), value_widths[g, 3])
        if refused(start, stop, sl, tsl, tp, size, default_loss, default_take, granularity):
            status_out[row] = REFUSED
            continue
        count = _simulate_account(
            start, stop, entries, exits, short_entries, short_exits, size, sl, tsl, tp,
            settings, legs, close_at_end, default_trail, default_type, open_, high, low, close,
            records)
        trades_out[row], turnover_out[row], finite = _replay_returns(
            records, count, legs, start, close, settings[6], years, returns_out[row])
        status_out[row] = SIMULATED if finite else NOT_FINITE
