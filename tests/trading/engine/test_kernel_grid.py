"""A grid inside the trading kernel on synthetic paths: self-tuned levels, round trips,
caps, recentring, stops, risk and regime vetoes, partial fills, expiry."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import numpy as np
import pytest

from tests.trading.engine.grid_scenarios import (
    FEE,
    GridRun,
    InventoryWatch,
    assert_books_reconcile,
    bars_from_closes,
    first_grid,
    grid_config,
    level_prices,
    sawtooth,
)
from tests.trading.engine.kernel_scenarios import (
    HOUR,
    NO_COSTS,
    SYMBOL,
    ScriptedEntries,
    plan,
)
from trading.engine.agents.market_regime import RegimeAgent
from trading.engine.events import BreakerEvent, DecisionEvent, FillEvent
from trading.engine.execution import PaperCosts
from trading.engine.instruments import Instrument
from trading.engine.kernel import (
    AllCashSizing,
    DecidedExitsOnly,
    GridEvent,
    GridPolicy,
    ImmediateExecution,
    KernelOrderEvent,
    TradeClosedEvent,
    run_event_backtest,
)
from trading.engine.market import Bars
from trading.engine.orders import Grid, LevelState, OrderSide
from trading.engine.orders.grid import self_tuned_spacing
from trading.engine.risk import RiskLimits


def test_a_long_only_grid_arms_only_buys_below_the_price_and_leaves_its_sells_alone():
    # given a 2% grid with a sell armed at level 1 by a fill at level 0
    grid = Grid.build(100, 0.02, 4, activation_window=0.05)
    grid = grid.activate_near(101, buys_only=True).grid
    assert [lvl.index for lvl in grid.active_levels] == [-2, -1, 0]
    grid = grid.on_fill(0).grid
    assert (grid.level(1).side, grid.level(1).state) == (OrderSide.SELL, LevelState.ACTIVE)
    # when the price rises to 106
    update = grid.activate_near(106, buys_only=True)
    # then the buys left behind idle, the ones now below the price arm, the sell stays armed
    assert sorted(lvl.index for lvl in update.deactivated) == [-2, -1]
    assert sorted(lvl.index for lvl in update.activated) == [2]
    assert update.grid.level(1).state is LevelState.ACTIVE
    assert update.grid.level(0).state is LevelState.FILLED
    assert grid.activate_near(101, buys_only=True).grid is grid  # nothing changed


def test_a_late_fill_on_an_idled_level_still_arms_its_counter_order():
    grid = Grid.build(100, 0.02, 3).activate_near(100, buys_only=True).grid
    idled = grid.activate_near(110, buys_only=True).grid
    assert idled.level(-1).state is LevelState.IDLE
    with pytest.raises(ValueError, match="not ACTIVE"):
        idled.on_fill(-1)
    update = idled.on_fill(-1, OrderSide.BUY)
    assert update.grid.level(-1).state is LevelState.FILLED
    assert [(lvl.index, lvl.side) for lvl in update.activated] == [(0, OrderSide.SELL)]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(100.0, 103.0, None), (100.0, 112.0, None), (100.0, 100.4, 0.005), (100.0, 190.0, 0.05)],
)
def test_the_spacing_tunes_itself_to_recent_swings_and_is_clamped(low, high, expected):
    # given ten days of a market swinging between `low` and `high`
    bars = bars_from_closes(sawtooth(low, high, 8, 31))
    # when a grid starts on it
    run = GridRun(grid_config(GridPolicy()), bars, warm=240).play()
    # then its spacing is 30% of the recent average swing, clamped to [0.5%, 5%]
    tuned = self_tuned_spacing(bars.high[:240], bars.low[:240])
    assert first_grid(run).spacing == pytest.approx(tuned)
    assert first_grid(run).spacing == pytest.approx(expected or 0.3 * (high / low - 1), rel=0.15)


def test_a_more_volatile_market_gets_a_wider_grid():
    calm = GridRun(grid_config(GridPolicy()), bars_from_closes(sawtooth(100, 103, 8, 31)), 240)
    wild = GridRun(grid_config(GridPolicy()), bars_from_closes(sawtooth(100, 112, 8, 31)), 240)
    assert first_grid(wild.play()).spacing > 3 * first_grid(calm.play()).spacing


def test_only_the_buy_levels_just_below_the_price_hold_orders():
    # given a grid of 5 levels a side with orders on the 2 nearest buy levels
    bars = bars_from_closes(sawtooth(100, 104, 8, 60))
    run = GridRun(grid_config(GridPolicy(active_levels=2)), bars, warm=240).play()
    # when it is built at the bottom of a swing (no inventory yet)
    built = first_grid(run)
    prices = level_prices(built)
    # then levels -1 and -2 are active with resting buys, the far ones and the sells idle
    assert built.reason == "built" and built.center == Decimal("100.0")
    assert built.active == (-2, -1)
    assert sorted((side, price) for _, side, price, _ in built.working) == [
        ("BUY", prices[-2]), ("BUY", prices[-1])
    ]
    states = {index: state for index, _, _, state in built.levels}
    assert all(states[i] == "IDLE" for i in (-5, -4, -3, 0, 1, 2, 3, 4, 5))
    assert built.inventory == 0 and built.budget == Decimal("5000.00")


# -- round trips -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sawtooth_run():
    bars = bars_from_closes(sawtooth(100, 104, 8, 60))
    config = grid_config(GridPolicy(retune_every_bars=10_000, stop_below_fraction=None))
    return run_event_backtest({SYMBOL: bars}, config, costs=NO_COSTS, start=240)


def test_a_sawtooth_round_trips_each_level_with_the_spacing_as_profit_net_of_fees(sawtooth_run):
    # given a market swinging 100 <-> 104 and a grid built at 100.5 with ~1.2% spacing
    result = sawtooth_run
    built = next(e for e in result.events if isinstance(e, GridEvent))
    assert built.center == Decimal("100.5") and built.budget == Decimal("5000.00")
    prices = level_prices(built)
    quantity = (built.budget / 5 / built.center).quantize(Decimal("0.001"), ROUND_DOWN)
    trips = [t for t in result.trades if t.exit_reason == "grid"]
    # then every trip bought at one level and sold one level up, for the expected profit
    assert len(trips) >= 20
    for trip in trips:
        level = next(i for i, p in prices.items() if p == trip.entry_price)
        assert trip.exit_price == prices[level + 1] and trip.quantity == quantity
        gross = quantity * (prices[level + 1] - prices[level])
        fees = FEE * quantity * (prices[level] + prices[level + 1])
        assert trip.net_pnl == gross - fees > 0
        assert trip.fees == fees and trip.outcome in ("win", "breakeven")
    assert {t.entry_price for t in trips} == {prices[0], prices[1]}  # 102.94 -> 104.18 > top


def test_the_grid_trades_reconcile_with_the_books(sawtooth_run):
    # given the sawtooth session closed at the end of the replay
    result = sawtooth_run
    state = result.portfolio
    # then the grid's round trips add up to the account's net P&L, to the last digit
    assert state.positions == ()
    assert sum((t.net_pnl for t in result.trades), Decimal(0)) == state.realized_pnl - state.fees
    assert_books_reconcile(state, result.balances, result.fills)
    assert result.trades[-1].exit_reason == "end"


def test_a_level_that_just_sold_is_not_bought_again_until_a_neighbour_trades(sawtooth_run):
    # given the sawtooth session's grid orders in the order they happened
    built = next(e for e in sawtooth_run.events if isinstance(e, GridEvent))
    index = {price: i for i, price in level_prices(built).items()}
    sold: set[int] = set()
    buys = 0
    for event in sawtooth_run.events:
        if not isinstance(event, KernelOrderEvent) or event.order_type != "LIMIT":
            continue
        level = index[event.limit_price]
        if event.side == "SELL" and event.status == "FILLED":
            sold.discard(level - 1)  # the pair below is armed again: buy there
            sold.add(level)
        elif event.side == "BUY" and event.status == "FILLED":
            sold.discard(level + 1)  # its sell goes where the last sale was
        elif event.side == "BUY" and event.status == "PENDING":
            buys += 1
            # then no buy is placed at a level whose sale has not been paired since
            assert level not in sold
    assert buys >= 20


def test_a_rising_price_moves_the_buys_up_closer_to_it():
    # given a grid built at 100 and a slow rise to 104.5 (still inside the grid)
    closes = np.concatenate([sawtooth(100, 104, 8, 30), np.linspace(100, 104.5, 20)])
    run = GridRun(grid_config(GridPolicy(active_levels=2)), bars_from_closes(closes), 240).play()
    prices = level_prices(first_grid(run))
    # then the far buys were cancelled and replaced closer to the price
    cancelled = {e.limit_price for e in run.grid_orders("CANCELLED", "BUY")}
    assert {prices[-2], prices[-1]} <= cancelled
    last = run.of(GridEvent)[-1]
    working = sorted(p for _, side, p, _ in last.working if side == "BUY")
    assert working == [prices[2], prices[3]]  # the two levels below 104.5
    assert all(float(p) > 100 for p in working)


# -- limits ----------------------------------------------------------------------------------


def staircase_down(start: float, steps: int) -> np.ndarray:
    """A fall of 2% a step with a 1% bounce inside each step (6 bars a step)."""
    closes = []
    price = start
    for _ in range(steps):
        closes.extend([price, price * 0.995, price * 0.99, price * 0.985, price * 0.995, price])
        price *= 0.98
    return np.array(closes)


@pytest.mark.parametrize("cap", [0.4, 1.0])
def test_the_inventory_never_exceeds_its_cap_while_the_grid_recenters_down(cap):
    # given a market falling 40% in steps, a grid without a stop, recentering as it goes
    closes = np.concatenate([sawtooth(100, 103, 8, 31), staircase_down(100, 25)])
    config = grid_config(GridPolicy(max_inventory=cap, stop_below_fraction=None))
    run = GridRun(config, bars_from_closes(closes), 240)
    watch = InventoryWatch(run)
    run.play()
    events = run.of(GridEvent)
    # then the grid recentered, and what it holds (as the book holds it) stays within its cap
    assert sum(1 for e in events if "recentered" in e.reason) >= 3
    budget = max(e.budget for e in events)
    assert max(watch.costs) <= Decimal(str(cap)) * budget
    if cap < 1.0:
        assert any("inventory cap" in e.buys_blocked for e in events)
        assert max(watch.costs) > Decimal(str(cap - 0.25)) * budget  # the cap was what bound
    else:
        assert max(watch.costs) > Decimal("0.6") * budget  # unbound, it holds far more


def test_the_grid_recenters_when_the_price_leaves_it_upward():
    # given a grid built at 100 and a rally to 115 (the grid's top is ~106)
    closes = np.concatenate([sawtooth(100, 104, 8, 30), np.linspace(100, 115, 40)])
    run = GridRun(grid_config(GridPolicy()), bars_from_closes(closes), 240).play()
    events = run.of(GridEvent)
    top = max(level_prices(events[0]).values())
    # then a new generation is built around the price above the old grid
    moved = next(e for e in events if "recentered" in e.reason)
    assert moved.generation == 2 and moved.center > top
    assert all(price < moved.center for _, side, price, _ in moved.working if side == "BUY")


def test_a_stop_below_the_lowest_buy_sells_the_inventory_and_rests_the_grid():
    # given a grid holding inventory when the market drops 12% in a few bars
    closes = np.concatenate(
        [sawtooth(100, 103, 8, 30), np.linspace(100, 88, 8), np.full(30, 88.0)]
    )
    config = grid_config(GridPolicy(stop_below_fraction=0.05, retune_every_bars=12))
    run = GridRun(config, bars_from_closes(closes), 240).play()
    # then one market sale closes all of it at a loss, and the grid rests before rebuilding
    (stop,) = [t for t in run.of(TradeClosedEvent) if t.exit_reason == "grid_stop"]
    assert stop.net_pnl < 0 and float(stop.exit_price) < 0.95 * float(stop.entry_price)
    assert run.kernel.portfolio.position(SYMBOL).quantity == 0
    stopped = next(e for e in run.of(GridEvent) if "stopped" in e.reason)
    resumed = next(e for e in run.of(GridEvent) if "resumed" in e.reason)
    assert resumed.ts_ms - stopped.ts_ms >= 11 * HOUR and resumed.generation > stopped.generation
    buys = run.grid_orders("PENDING", "BUY")
    assert not [b for b in buys if stopped.ts_ms <= b.ts_ms < resumed.ts_ms]


def test_a_breaker_trip_stops_new_grid_buys_until_it_lifts():
    # given a session allowed 4 new-risk orders a day, running a grid on a sawtooth
    limits = RiskLimits(
        max_drawdown=0.9, max_position_fraction=1.0, daily_loss_limit=0.9,
        max_consecutive_losses=100, max_daily_trades=4, max_slippage=0.5,
    )
    run = GridRun(
        grid_config(GridPolicy(), limits), bars_from_closes(sawtooth(100, 104, 8, 60)), 240
    ).play()
    # when the daily trade count breaker trips
    trips = [e for e in run.of(BreakerEvent) if e.breaker == "daily_trades"]
    pause = next(e for e in trips if e.action == "PAUSE")
    lifted = next(e for e in trips if e.action == "RESUME" and e.ts_ms > pause.ts_ms)
    assert pause.ts_ms < lifted.ts_ms
    # then while it is tripped no grid buy is placed or left working, sells keep working,
    # and buys come back when it lifts (the next UTC midnight)
    windows = [
        range(p.ts_ms, next(r.ts_ms for r in trips if r.action == "RESUME" and r.ts_ms > p.ts_ms))
        for p in trips if p.action == "PAUSE"
    ]
    assert len(windows) >= 3
    for window in windows:
        assert not [e for e in run.grid_orders("PENDING", "BUY") if e.ts_ms in window]
        views = [e for e in run.of(GridEvent) if e.ts_ms in window]
        assert views and all("circuit breaker" in e.buys_blocked for e in views)
        assert not [w for e in views for w in e.working if w[1] == "BUY"]
        assert [e for e in run.grid_orders("PENDING", "BUY") if e.ts_ms == window.stop]
    assert [e for e in run.grid_orders("CANCELLED", "BUY") if e.ts_ms == windows[0].start]
    assert any(e.ts_ms in w for w in windows for e in run.grid_orders("FILLED", "SELL"))


def test_a_bear_regime_vote_stops_the_grid_adding_buys():
    # given a market that fell 5% a day for 4 days, then ranges below, with the regime agent on
    side = sawtooth(100, 103, 8, 30)[:-1]
    fall = side[-1] * np.exp(-0.05 / 24 * np.arange(1, 97))
    closes = np.concatenate([side, fall, sawtooth(fall[-1] * 0.99, fall[-1] * 1.02, 6, 12)])
    bars, warm = bars_from_closes(closes), len(side) + len(fall)

    def run(veto_agent: str) -> GridRun:
        grid = GridPolicy(stop_below_fraction=None, veto_agent=veto_agent)
        return GridRun(grid_config(grid, agents=(RegimeAgent(),)), bars, warm).play()

    # when the regime agent votes BEAR (TRAIL_SELL) with high confidence
    vetoed, free = run("regime"), run("no-such-agent")
    # then the grid adds no buy, while the same grid without the veto trades the range
    assert not vetoed.grid_orders("PENDING", "BUY")
    assert all("regime votes TRAIL_SELL" in e.buys_blocked for e in vetoed.of(GridEvent))
    assert len(free.grid_orders("FILLED", "BUY")) >= 5


def test_decided_entries_on_a_grid_symbol_become_skips_that_say_why():
    # given a decision policy that wants to buy at two candles of a grid's symbol (while flat)
    bars = bars_from_closes(sawtooth(100, 104, 8, 40))
    times = (int(bars.timestamps[240]) + HOUR, int(bars.timestamps[241]) + HOUR)
    entries = ScriptedEntries(times, Decimal("1"), plan())
    run = GridRun(grid_config(GridPolicy(), decision=entries), bars, 240).play()
    # then those decisions are published as skips with the reason, and only the grid trades
    skipped = [d for d in run.of(DecisionEvent) if d.ts_ms in times]
    assert [d.action for d in skipped] == ["SKIP", "SKIP"]
    assert all("the grid trades BTCUSDT" in d.reasoning for d in skipped)
    assert {e.tag for e in run.of(KernelOrderEvent)} == {"grid"}


def test_an_emergency_stop_flattens_the_grid_and_it_places_nothing_while_halted():
    # given a grid holding inventory with buys and sells working
    run = GridRun(grid_config(GridPolicy()), bars_from_closes(sawtooth(100, 104, 8, 40)), 240)
    run.play(until=262)
    book = run.kernel.grid.books[SYMBOL]
    assert book.lots and {ref.kind for ref in book.orders.values()} == {"buy", "sell"}
    held = run.kernel.portfolio.position(SYMBOL).quantity
    # when the operator hits the emergency stop, and the market goes on
    halted_at = run.clock.now_ms()
    run.kernel.emergency_stop("operator emergency")
    run.play()
    # then every grid order was cancelled, the whole inventory sold as one closed trade,
    # and the grid sent nothing more
    (flatten,) = [t for t in run.of(TradeClosedEvent) if t.exit_reason == "emergency_stop"]
    assert flatten.quantity == held and flatten.entry_context["source"] == "grid"
    assert run.kernel.portfolio.position(SYMBOL).quantity == 0 and not book.lots
    after = [e for e in run.of(KernelOrderEvent) if e.ts_ms >= halted_at]
    assert not [e for e in after if e.tag == "grid" and e.status == "PENDING"]
    assert not run.executor.open_orders()


def test_a_companion_grid_keeps_its_budget_from_the_agents_entries_on_other_symbols():
    # given a session whose grid trades BTC with half the capital, agents entering ETH all-in
    btc = bars_from_closes(sawtooth(100, 104, 8, 40))
    eth_closes = sawtooth(1000, 1010, 8, 40)
    eth = Bars.from_arrays(
        btc.timestamps, eth_closes, eth_closes * 1.0005, eth_closes * 0.9995, eth_closes,
        np.full(len(eth_closes), 1e4), symbol="ETHUSDT", timeframe="1h",
    )
    entry_ms = int(btc.timestamps[240]) + HOUR
    config = grid_config(
        GridPolicy(symbols=(SYMBOL,), capital_fraction=0.5),
        symbols=(SYMBOL, "ETHUSDT"),
        instruments=(
            Instrument.from_symbol(SYMBOL, tick_size=Decimal("0.01"), lot_size=Decimal("0.001")),
            Instrument.from_symbol("ETHUSDT", tick_size=Decimal("0.01"),
                                   lot_size=Decimal("0.001")),
        ),
        decision=ScriptedEntries((entry_ms,), Decimal("1000"), None),
        sizing=AllCashSizing(), execution=ImmediateExecution(), exits=DecidedExitsOnly(),
    )
    result = run_event_backtest(
        {SYMBOL: btc, "ETHUSDT": eth}, config, costs=NO_COSTS, start=240, close_at_end=False
    )
    # then the ETH entry spent only what the grid's budget leaves
    eth_fills = [f for f in result.fills if f.symbol == "ETHUSDT"]
    spent = sum((f.quantity * f.price + f.fee for f in eth_fills), Decimal(0))
    assert Decimal(4_900) < spent <= Decimal(5_000)
    # and the grid kept buying with its own half
    grids = [e for e in result.events if isinstance(e, GridEvent)]
    assert not any("cash" in e.buys_blocked for e in grids)
    btc_buys = [f for f in result.fills if f.symbol == SYMBOL and f.side == "BUY"]
    assert len(btc_buys) >= 10 and all(f.ts_ms > entry_ms for f in btc_buys)


# -- orders: partial fills and time constraints ----------------------------------------------


def test_a_partially_filled_buy_is_closed_at_the_candle_and_its_lot_sold_whole():
    # given a thin market: one price point trades only 10% of 60 units (6 of a 10-unit level)
    costs = PaperCosts(
        spread=Decimal(0), maker_fee=FEE, taker_fee=FEE, slippage=Decimal(0),
        impact=Decimal(0), max_participation=Decimal("0.1"),
    )
    bars = bars_from_closes(sawtooth(100, 104, 8, 60), volume=240.0)
    run = GridRun(grid_config(GridPolicy()), bars, 240, costs).play()
    # then a buy that filled only partly had its remainder cancelled at the candle close
    partial = [e for e in run.grid_orders("CANCELLED", "BUY") if 0 < e.filled_quantity < e.quantity]
    assert partial
    cut = partial[0]
    assert cut.history[-2][2] == "PARTIAL" and cut.ts_ms % HOUR == 0
    # and the lot it bought got one sell for exactly the filled quantity, one level up
    sells = [e for e in run.grid_orders("PENDING", "SELL") if e.ts_ms == cut.ts_ms]
    assert [s.quantity for s in sells] == [cut.filled_quantity]
    assert sells[0].limit_price > cut.limit_price
    state = run.kernel.portfolio.snapshot()
    fills = run.of(FillEvent)
    assert_books_reconcile(state, {a: b.total for a, b in run.executor.balances().items()}, fills)


def test_grid_orders_expire_after_their_max_duration_and_are_placed_again():
    # given buy levels below a range the price never reaches, orders living 6 bars
    bars = bars_from_closes(sawtooth(100, 104, 8, 60))
    run = GridRun(grid_config(GridPolicy(order_ttl_bars=6)), bars, 240).play()
    expired = run.grid_orders("EXPIRED", "BUY")
    # then they expire 6 bars after placement and the same level gets a new order id
    assert expired
    placed = {e.client_order_id: e.ts_ms for e in run.grid_orders("PENDING")}
    for order in expired:
        assert order.ts_ms - placed[order.client_order_id] == 6 * HOUR
        again = [
            e for e in run.grid_orders("PENDING", "BUY")
            if e.limit_price == order.limit_price and e.ts_ms >= order.ts_ms
        ]
        assert again and again[0].client_order_id != order.client_order_id
