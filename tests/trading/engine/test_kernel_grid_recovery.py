"""A grid inside the trading kernel: properties on random paths, restore after a crash,
and a ranging quarter of real BTC."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.market_data import load_bars
from tests.trading.engine.grid_scenarios import (
    GridRun,
    InventoryWatch,
    assert_books_reconcile,
    bars_from_closes,
    grid_config,
    sawtooth,
)
from tests.trading.engine.kernel_scenarios import (
    SYMBOL,
)
from tests.trading.engine.test_kernel_checkpoint import (
    Worker,
    json_round_trip,
    order_ids,
    resumed_matches_uninterrupted,
)
from trading.engine.events import FillEvent
from trading.engine.execution import PaperCosts
from trading.engine.kernel import (
    GridEvent,
    GridPolicy,
    KernelConfig,
    KernelOrderEvent,
    MultiReplayFeed,
    TradeClosedEvent,
    run_event_backtest,
)
from trading.engine.market import Bars
from trading.engine.risk import RiskLimits
from trading.engine.risk_profiles import MarketStats, RiskProfile


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    volatility=st.floats(0.002, 0.03),
    drift=st.floats(-0.004, 0.004),
    volume=st.sampled_from([60.0, 400.0, 1e6]),
    cap=st.sampled_from([0.3, 0.6, 1.0]),
)
def test_on_any_path_the_grid_keeps_its_cap_sells_above_cost_and_reconciles(
    seed, volatility, drift, volume, cap
):
    # given a random walk (thin to deep markets) after a ranging warm-up, traded with spread,
    # slippage and a 10% volume cap (partial fills), and closed out at the end
    rng = np.random.default_rng(seed)
    walk = 100 * np.exp(np.cumsum(rng.normal(drift, volatility, 100)))
    bars = bars_from_closes(np.concatenate([sawtooth(100, 103, 8, 30), walk]), volume)
    config = grid_config(GridPolicy(max_inventory=cap, retune_every_bars=12, order_ttl_bars=6))
    run = GridRun(config, bars, 240, PaperCosts())
    watch = InventoryWatch(run)
    run.play(until=len(bars) - 10)
    run.kernel.wind_down("end")  # ten bars before the end: a thin market sells slowly
    run.play()
    # then the grid's lots always matched the book, their cost stayed within the cap,
    # every paired sale sold above what its lot cost, and all the books agree at the end
    budget = max(e.budget for e in run.of(GridEvent))
    assert max(watch.costs) <= Decimal(str(cap)) * budget
    trades = run.of(TradeClosedEvent)
    assert all(t.exit_price > t.entry_price for t in trades if t.exit_reason == "grid")
    state = run.kernel.portfolio.snapshot()
    assert state.positions == ()
    balances = {a: b.total for a, b in run.executor.balances().items()}
    assert_books_reconcile(state, balances, run.of(FillEvent))
    assert sum((t.net_pnl for t in trades), Decimal(0)) == state.realized_pnl - state.fees


# -- restore and real data -------------------------------------------------------------------


@pytest.fixture(scope="module")
def btc_q3() -> Bars:
    return load_bars("BTCUSDT", "1h", start="2022-07-01", end="2022-10-01")


def real_grid_config(bars: Bars, agents: tuple | None = ()) -> KernelConfig:
    stats = MarketStats.from_bars(bars.slice(0, 300))
    limits = RiskLimits(
        max_drawdown=0.3, max_position_fraction=0.6, daily_loss_limit=0.1,
        max_consecutive_losses=5, max_daily_trades=100, max_exposure=1.0,
    )
    return KernelConfig(
        session_id="grid-btc",
        symbols=("BTCUSDT",),
        timeframe="1h",
        capital=10_000.0,
        profile=RiskProfile.derive("moderate", 10_000.0, stats, symbols=["BTCUSDT"]),
        agents=agents,
        risk_limits=limits,
        grid=GridPolicy(),
    )


def test_a_session_restored_mid_grid_replays_exactly_like_an_uninterrupted_one(btc_q3):
    # given a grid session on real bars, killed when it held lots and had buys and sells working
    bars = btc_q3.slice(0, 400)
    config = real_grid_config(bars)
    probe = Worker(config)
    found: list[int] = []

    def holding(index: int) -> bool:
        book = probe.kernel.grid.books["BTCUSDT"]
        kinds = {ref.kind for ref in book.orders.values()}
        if index > 50 and len(book.lots) >= 2 and {"buy", "sell"} <= kinds:
            found.append(index)
            return True
        return False

    probe.run(bars, 0, len(bars), holding)
    assert found, "the grid never held two lots with orders on both sides"
    # then the restored worker publishes the same events and ends in the same state
    resumed_matches_uninterrupted(bars, config, found[0] + 1)


def test_a_worker_killed_after_sending_grid_orders_resends_the_same_ids():
    # given a grid whose buys fill on gaps at the opening price of a bar (falling bars open
    # just under their close), and a worker that died right after such an open: it booked the
    # fill and sent the counter-order, but not yet written a checkpoint
    bars = bars_from_closes(sawtooth(100, 104, 8, 40))
    falling = bars.close < bars.open
    opens = np.where(falling, bars.close * 0.997, bars.open)
    bars = Bars.from_arrays(
        bars.timestamps, opens, np.maximum(bars.high, opens), np.minimum(bars.low, opens),
        bars.close, bars.volume, symbol=SYMBOL, timeframe="1h",
    )
    config = grid_config(GridPolicy())
    whole = Worker(config)
    whole.run(bars, 0, len(bars))
    opening = {int(t): i for i, t in enumerate(bars.timestamps)}
    cut = next(
        opening[e.ts_ms] for e in whole.log
        if isinstance(e, FillEvent) and opening.get(e.ts_ms, 0) > 20
    )
    crashed = Worker(config)
    crashed.run(bars, 0, cut)
    saved = json_round_trip(crashed.kernel.checkpoint())
    seen = len(crashed.log)
    feed = MultiReplayFeed([bars.slice(0, cut + 1)], crashed.clock, path="auto", start=cut)
    crashed.kernel.process(next(iter(feed)))
    sent = [e for e in crashed.log[seen:] if isinstance(e, KernelOrderEvent)]
    filled = [e for e in crashed.log[seen:] if isinstance(e, FillEvent)]
    assert filled and [e for e in sent if e.status == "PENDING" and e.side == "SELL"]
    # when a new worker restores the checkpoint against the same exchange and replays the bar
    resumed = Worker(config, clock=crashed.clock, executor=crashed.executor, restore=saved,
                     history=bars.slice(0, cut))
    resumed.run(bars, cut, len(bars))
    # then the exchange holds one order per grid id, each fill was booked once,
    # and the books end exactly as in the uninterrupted session
    assert order_ids(crashed.log) | order_ids(resumed.log) == order_ids(whole.log)
    resent = {e.client_order_id for e in sent if e.status == "PENDING"}
    assert resent <= {
        e.client_order_id for e in resumed.log
        if isinstance(e, KernelOrderEvent) and e.status == "PENDING"
    }
    booked = [e.trade_id for e in resumed.log if isinstance(e, FillEvent)]
    assert {f.trade_id for f in filled} <= set(booked) and len(booked) == len(set(booked))
    assert resumed.kernel.portfolio.snapshot() == whole.kernel.portfolio.snapshot()
    assert resumed.executor.balances() == whole.executor.balances()
    assert resumed.kernel.checkpoint() == whole.kernel.checkpoint()


def test_a_ranging_quarter_of_real_btc_trades_the_grid_with_reconciled_books(btc_q3):
    # given BTC in 2022 Q3 (ranging 18.7k-24.7k) replayed with every agent voting
    result = run_event_backtest({"BTCUSDT": btc_q3}, real_grid_config(btc_q3, None), start=300)
    state = result.portfolio
    # then the grid round-tripped many times and every book agrees with the exchange
    trips = [t for t in result.trades if t.exit_reason == "grid"]
    assert len(trips) >= 40 and all(t.net_pnl > 0 for t in trips)
    assert state.positions == ()
    assert_books_reconcile(state, result.balances, result.fills)
    assert sum((t.net_pnl for t in result.trades), Decimal(0)) == state.realized_pnl - state.fees
    # and every grid order has one deterministic id, traced from creation to its end
    final: dict[str, KernelOrderEvent] = {}
    for event in result.events:
        if isinstance(event, KernelOrderEvent):
            final[event.client_order_id] = event
    assert all(e.tag == "grid" and e.history[0][2] == "PENDING" for e in final.values())
    assert {e.status for e in final.values()} <= {"FILLED", "CANCELLED", "EXPIRED"}
    grids = [e for e in result.events if isinstance(e, GridEvent)]
    assert {g.generation for g in grids} >= {1, 2, 3}
    assert all(0.005 <= g.spacing <= 0.05 for g in grids)
