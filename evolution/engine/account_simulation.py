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
  `process_order_nb`, ...) called with the same values in the same order, so
  fills, fees and cash are vectorbt's arithmetic;
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

import numba
import numpy as np
from vectorbt.portfolio.enums import (
    AccumulationMode,
    ConflictMode,
    Direction,
    DirectionConflictMode,
    OppositeEntryMode,
    OrderStatus,
    ProcessOrderState,
    StopExitMode,
    log_dt,
    order_dt,
)
from vectorbt.portfolio.nb import (
    generate_stop_signal_nb,
    get_stop_price_nb,
    order_nb,
    process_order_nb,
    resolve_dir_conflict_nb,
    resolve_opposite_entry_nb,
    resolve_signal_conflict_nb,
    resolve_stop_price_and_slippage_nb,
    signals_to_size_nb,
)

from backtests.engine.simulator import STOP_EXIT_AS_MARKET
from evolution.engine.account_plan import legs_on_row, refused, size_on_row, stops_on_row

SIMULATED, REFUSED, NOT_FINITE = 0, 1, 2  # status of a genome


SL_PRICE, SL_STOP, TP_PRICE, TP_STOP = 0, 1, 2, 3  # a leg's stop state (vectorbt's sl_curr_*,
# tp_init_price, tp_curr_stop; the bar indices vectorbt also keeps are never read)


@numba.njit(cache=True, inline="always")
def _arm_stops(
    stops: np.ndarray, trailing: np.ndarray, leg: int, before: float, after: float,
    fill_price: float, loss: float, trail: bool, take: float,
) -> None:
    """vectorbt's stop bookkeeping after a fill (stops from the fill price, Override mode)."""
    s = stops[leg]
    if after == 0:  # closed: disarm
        s[SL_PRICE] = s[SL_STOP] = s[TP_PRICE] = s[TP_STOP] = np.nan
        trailing[leg] = False
    elif before == 0 or np.sign(after) != np.sign(before):  # opened or reversed: arm
        s[SL_PRICE], s[SL_STOP], trailing[leg] = fill_price, loss, trail
        s[TP_PRICE], s[TP_STOP] = fill_price, take
    elif abs(after) > abs(before):  # increased: override the stops given
        if not np.isnan(loss):
            s[SL_PRICE], s[SL_STOP], trailing[leg] = fill_price, loss, trail
        if not np.isnan(take):
            s[TP_PRICE], s[TP_STOP] = fill_price, take


@numba.njit(cache=True, inline="always")
def _armed(stops: np.ndarray, leg: int) -> bool:
    return not np.isnan(stops[leg, SL_STOP]) or not np.isnan(stops[leg, TP_STOP])


@numba.njit(cache=True, inline="always")
def _stop_price(
    stops: np.ndarray, trailing: np.ndarray, leg: int, position: float, bar_open: float,
    bar_high: float, bar_low: float, bar_close: float,
) -> float:
    """The price an armed stop of the leg exits at on this bar (NaN: not hit); then trail it."""
    s = stops[leg]
    if np.isnan(bar_open):
        bar_open = bar_close
    if np.isnan(bar_low):
        bar_low = min(bar_open, bar_close)
    if np.isnan(bar_high):
        bar_high = max(bar_open, bar_close)
    price = np.nan
    if not np.isnan(s[SL_STOP]):
        price = get_stop_price_nb(position, s[SL_PRICE], s[SL_STOP], bar_open, bar_low,
                                  bar_high, True)
    if np.isnan(price) and not np.isnan(s[TP_STOP]):
        price = get_stop_price_nb(position, s[TP_PRICE], s[TP_STOP], bar_open, bar_low,
                                  bar_high, False)
    if not np.isnan(s[SL_STOP]) and trailing[leg]:
        if position > 0 and bar_high > s[SL_PRICE]:
            s[SL_PRICE] = bar_high
        elif position < 0 and bar_low < s[SL_PRICE]:
            s[SL_PRICE] = bar_low
    return price


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
CASH, FREE_CASH, ORDERS, LOGS = 0, 1, 2, 3  # the account's state


@numba.njit(cache=True)
def _simulate_account(
    g: int, start: int, stop: int, entries: np.ndarray, exits: np.ndarray,
    short_entries: np.ndarray, short_exits: np.ndarray, size: np.ndarray, sl: np.ndarray,
    tsl: np.ndarray, tp: np.ndarray, settings: np.ndarray, legs: int, close_at_end: bool,
    default_trail: bool, default_type: int, open_: np.ndarray, high: np.ndarray,
    low: np.ndarray, close: np.ndarray, records: np.ndarray, log_records: np.ndarray,
) -> int:
    """Fill `records` with genome g's orders (row = bar - start, column = leg); their count.

    `settings` = (default stop-loss, default take-profit, default size, size granularity,
    fee, slippage, initial cash), NaN for the stops and granularity not set."""
    state = np.zeros((legs, 3))
    state[:, VAL_PRICE] = np.nan
    stops, trailing = np.full((legs, 4), np.nan), np.zeros(legs, np.bool_)
    account = np.array([settings[6], settings[6], 0.0, 0.0])
    stop_price, orders = np.empty(legs), np.empty((legs, 5))
    entry, exit_ = np.zeros(2, np.bool_), np.zeros(2, np.bool_)
    last_row = stop - start - 1
    armed = False
    for i in range(stop - start):
        t = start + i - 1
        signal = (close_at_end and i == last_row) or (t >= 0 and (
            entries[g, t] or exits[g, t]
            or (legs == 2 and (short_entries[g, t] or short_exits[g, t]))))
        if not signal and not armed:
            continue  # no signal, no stop armed: nothing can happen on this bar
        b = start + i
        acts = False
        for leg in range(legs):  # each leg's stop first (vectorbt checks, then trails it)
            stop_price[leg] = np.nan
            if _armed(stops, leg):
                stop_price[leg] = _stop_price(stops, trailing, leg, state[leg, POSITION],
                                              open_[b], high[b], low[b], close[b])
                acts = acts or not np.isnan(stop_price[leg])
        if not signal and not acts:
            continue  # stops trailed, none hit, no signal: no order on this bar
        entry[0], exit_[0], entry[1], exit_[1], long_first, _ = legs_on_row(
            g, t, i == last_row, entries, exits, short_entries, short_exits, legs, close_at_end)
        for leg in range(legs):
            acts = acts or _places_order(state[leg, POSITION], entry[leg], exit_[leg])
        if not acts:
            continue  # an entry while open, an exit while flat, or both: vectorbt ignores them
        loss, trail, take = stops_on_row(g, t, sl, tsl, tp, settings[0], default_trail,
                                         settings[1])
        row_size, row_type = size_on_row(g, t, size, settings[2], default_type)
        _trade_row(i, open_[b], close[b], entry, exit_, long_first, stop_price, loss, trail,
                   take, row_size, row_type, settings, state, stops, trailing, account, orders,
                   records, log_records)
        armed = _armed(stops, 0) or (legs == 2 and _armed(stops, 1))
    return int(account[ORDERS])


@numba.njit(cache=True, inline="always")
def _trade_row(
    i: int, bar_open: float, bar_close: float, entry: np.ndarray, exit_: np.ndarray,
    long_first: bool, stop_price: np.ndarray, loss: float, trail: bool, take: float,
    row_size: float, row_type: int, settings: np.ndarray, state: np.ndarray,
    stops: np.ndarray, trailing: np.ndarray, account: np.ndarray, orders: np.ndarray,
    records: np.ndarray, log_records: np.ndarray,
) -> None:
    """vectorbt's row of a group: valuation prices, each leg's order (size, size type,
    direction, price, slippage into `orders`), then the orders processed in the row's call
    order (with cash shared by the legs)."""
    legs = state.shape[0]
    for leg in range(legs):
        if not np.isnan(bar_open):
            state[leg, VAL_PRICE] = bar_open
    for leg in range(legs):
        orders[leg, 0], orders[leg, 1], orders[leg, 2], orders[leg, 3], orders[leg, 4] = \
            _leg_order(state[leg, POSITION], entry[leg], exit_[leg],
                       Direction.LongOnly if leg == 0 else Direction.ShortOnly, row_size,
                       row_type, state[leg, VAL_PRICE], stop_price[leg], bar_open, bar_close,
                       settings[5])
    value = account[CASH]
    for leg in range(legs):
        if legs > 1 and state[leg, POSITION] != 0:
            value += state[leg, POSITION] * state[leg, VAL_PRICE]
    for k in range(legs):
        leg = k if long_first else legs - 1 - k
        if legs == 1:
            value = account[CASH] + state[leg, POSITION] * state[leg, VAL_PRICE] \
                if state[leg, POSITION] != 0 else account[CASH]
        if orders[leg, 0] != 0:
            value = _place_order(i, leg, orders[leg], entry[leg], value, loss, trail, take,
                                 settings, state, stops, trailing, account, records,
                                 log_records)


@numba.njit(cache=True, inline="always")
def _place_order(
    i: int, leg: int, order_values: np.ndarray, entry: bool, value: float, loss: float,
    trail: bool, take: float, settings: np.ndarray, state: np.ndarray, stops: np.ndarray,
    trailing: np.ndarray, account: np.ndarray, records: np.ndarray, log_records: np.ndarray,
) -> float:
    """One leg's order through vectorbt's `process_order_nb`; the stops armed after a fill.
    Returns the account value vectorbt carries on to the next leg."""
    amount, direction = order_values[0], int(order_values[2])
    if direction == Direction.ShortOnly:
        amount *= -1
    granularity = settings[3] if entry else np.nan
    order = order_nb(amount, order_values[3], int(order_values[1]), direction, settings[4], 0.0,
                     order_values[4], 0.0, np.inf, granularity, 0.0, False, True, False, False)
    before = state[leg, POSITION]
    result, after = process_order_nb(
        i, leg, 0, ProcessOrderState(account[CASH], before, state[leg, DEBT],
                                     account[FREE_CASH], state[leg, VAL_PRICE], value,
                                     int(account[ORDERS]), int(account[LOGS])),
        False, order, records, log_records)
    account[CASH], account[FREE_CASH] = after.cash, after.free_cash
    account[ORDERS], account[LOGS] = after.oidx, after.lidx
    state[leg, POSITION], state[leg, DEBT] = after.position, after.debt
    if result.status == OrderStatus.Filled:
        _arm_stops(stops, trailing, leg, before, after.position, result.price, loss, trail,
                   take)
    if not np.isnan(after.val_price):
        state[leg, VAL_PRICE] = after.val_price
    return after.value


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
    cash plus the open legs at the bar's close."""
    position = np.zeros(legs)
    cash = previous = init_cash
    trades = 0
    traded = 0.0  # the fills' value over the equity before them, in record order
    p = 0
    finite = True
    for i in range(returns.shape[0]):
        filled = p < count and records[p]["idx"] == i
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
            equity = previous if position[0] == 0.0 and not filled else \
                cash + position[0] * close[start + i]
        else:
            equity = cash
            for leg in range(legs):
                equity += position[leg] * close[start + i] if position[leg] != 0.0 else 0.0
        returns[i] = equity / previous - 1.0
        finite = finite and np.isfinite(returns[i])
        previous = equity
    return trades, traded / years, finite


@numba.njit(cache=True)
def simulate_accounts(
    start: int, stop: int, entries: np.ndarray, exits: np.ndarray, short_entries: np.ndarray,
    short_exits: np.ndarray, size: np.ndarray, sl: np.ndarray, tsl: np.ndarray,
    tp: np.ndarray, settings: np.ndarray, legs: int, close_at_end: bool, default_trail: bool,
    default_type: int, years: float, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
    close: np.ndarray, out_rows: np.ndarray, returns_out: np.ndarray,
    trades_out: np.ndarray, turnover_out: np.ndarray, status_out: np.ndarray,
) -> None:
    """Simulate every genome (row) of a batch over bars [start, stop) (module docstring).

    Signals are (genomes, stop) bool arrays and (genomes, 1 | stop) floats (a constant,
    or one value per bar; NaN = none); short signals are read only with two legs.
    Prices are the bars [0, stop). Genome g's returns over the bars go to row
    `out_rows[g]` of `returns_out`, its closed trades, turnover (traded value / equity
    per `years`) and status to the same index of the other outputs."""
    rows = stop - start
    records = np.empty(rows * legs + 1, dtype=order_dt)  # at most one order per leg and row
    log_records = np.empty(1, dtype=log_dt)
    default_loss, default_take, granularity = settings[0], settings[1], settings[3]
    for g in range(out_rows.shape[0]):
        row = out_rows[g]
        if refused(g, start, stop, sl, tsl, tp, size, default_loss, default_take, granularity):
            status_out[row] = REFUSED
            continue
        count = _simulate_account(
            g, start, stop, entries, exits, short_entries, short_exits, size, sl, tsl, tp,
            settings, legs, close_at_end, default_trail, default_type, open_, high, low, close,
            records, log_records)
        trades_out[row], turnover_out[row], finite = _replay_returns(
            records, count, legs, start, close, settings[6], years, returns_out[row])
        status_out[row] = SIMULATED if finite else NOT_FINITE
