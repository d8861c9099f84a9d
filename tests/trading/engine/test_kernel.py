"""The trading kernel on hand-made price paths: exits, breakers, emergency stop, bad data."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trading.engine.kernel_scenarios import (
    HOUR,
    LOOSE_LIMITS,
    NO_COSTS,
    START_MS,
    ScriptedEntries,
    Session,
    close_ms,
    flat,
    ohlc_bars,
    path_events,
    plan,
    scripted_config,
)
from trading.engine.clock import SimulatedClock
from trading.engine.events import (
    BreakerEvent,
    DataRejectedEvent,
    DecisionEvent,
    EngineEvent,
    FillEvent,
)
from trading.engine.execution import PaperCosts
from trading.engine.feeds import Candle, ReplayFeed, Tick
from trading.engine.kernel import KernelOrderEvent, MultiReplayFeed, TradeClosedEvent
from trading.engine.market import Bars
from trading.engine.risk import RiskLimits, SessionState

ONE = Decimal("1.000")
TAKE_PROFIT_PATH = [
    *flat(5),
    (100.0, 101.0, 99.0, 100.0),  # 5: the entry fills at its open
    (100.0, 116.0, 99.0, 112.0),  # 6: through +15%
    (112.0, 131.0, 111.0, 130.0),  # 7: through +30%
    (130.0, 161.0, 129.0, 158.0),  # 8: through +60%
    *flat(2, 158.0),
]
STOP_PATH = [*flat(5), (100.0, 101.0, 99.0, 100.0), (100.0, 100.5, 90.0, 91.0), *flat(3, 91.0)]


def fills(session: Session) -> list[tuple[str, Decimal, Decimal, int]]:
    return [(f.side, f.quantity, f.price, f.ts_ms) for f in session.of(FillEvent)]


def entry_session(path, *, costs: PaperCosts = NO_COSTS, limits=LOOSE_LIMITS, **plan_args):
    entries = ScriptedEntries((close_ms(4),), ONE, plan(**plan_args))
    session = Session(scripted_config(entries, limits), costs=costs)
    return session, ohlc_bars(path)


class TestExits:
    def test_take_profit_tiers_fill_a_third_each_at_their_limit_prices(self):
        # given an entry of 1.000 at 100 and a path that trades through +15%, +30% and +60%
        session, bars = entry_session(TAKE_PROFIT_PATH)
        # when the kernel replays the path tick by tick
        session.play(path_events(bars))
        # then the entry fills at the next open and each tier at exactly its limit price
        open_5, high = START_MS + 5 * HOUR, 2 * HOUR // 3
        assert fills(session) == [
            ("BUY", ONE, Decimal("100.00"), open_5),
            ("SELL", Decimal("0.330"), Decimal("115.00"), open_5 + HOUR + high),
            ("SELL", Decimal("0.330"), Decimal("130.00"), open_5 + 2 * HOUR + high),
            ("SELL", Decimal("0.340"), Decimal("160.00"), open_5 + 3 * HOUR + high),
        ]
        (trade,) = session.of(TradeClosedEvent)
        assert trade.exit_reason == "take_profit_2" and trade.outcome == "big_win"
        gross = Decimal("0.330") * 15 + Decimal("0.330") * 30 + Decimal("0.340") * 60
        assert trade.realized_pnl == gross
        assert trade.net_pnl == gross - trade.fees
        assert trade.max_favourable_excursion == pytest.approx(0.61)
        assert trade.best_exit_price == 161.0
        assert trade.max_adverse_excursion == pytest.approx(-0.01)
        assert trade.entry_context["reasoning"] == "scripted entry"
        assert session.kernel.portfolio.open_positions == []

    def test_the_stop_loss_sells_at_the_price_that_crossed_it_and_cancels_the_tiers(self):
        # given an entry with an 8% stop and a bar whose path dips to 90
        costs = PaperCosts(
            spread=Decimal(0), slippage=Decimal("0.001"), impact=Decimal(0),
            max_participation=None,
        )
        session, bars = entry_session(STOP_PATH, costs=costs)
        # when the path is replayed
        session.play(path_events(bars))
        # then the entry paid the slippage, and the stop sold at the low tick minus slippage
        buy, sell = fills(session)
        assert buy[2] == Decimal("100.10")
        assert sell[:3] == ("SELL", ONE, Decimal("89.91"))
        assert sell[3] == START_MS + 6 * HOUR + 2 * HOUR // 3  # the low tick of bar 6
        (trade,) = session.of(TradeClosedEvent)
        assert trade.exit_reason == "stop_loss" and trade.outcome == "big_loss"
        cancelled = [e for e in session.of(KernelOrderEvent) if e.status == "CANCELLED"]
        assert [e.tag for e in cancelled] == ["take_profit"] * 3
        assert [h[2] for h in cancelled[0].history] == ["PENDING", "SUBMITTED", "CANCELLED"]

    def test_the_time_stop_closes_at_the_first_price_after_the_holding_time(self):
        # given a three-hour time stop on a flat market
        session, bars = entry_session(flat(12), time_stop_ms=3 * HOUR)
        session.play(path_events(bars))
        # then the position is sold at the open of the third bar after the entry
        buy, sell = fills(session)
        assert sell[3] - buy[3] == 3 * HOUR
        assert session.of(TradeClosedEvent)[0].exit_reason == "time_stop"

    def test_a_candle_only_feed_fills_at_the_same_prices_and_times(self):
        # given the take-profit path as whole candles only (no ticks from the feed)
        ticked, bars = entry_session(TAKE_PROFIT_PATH)
        ticked.play(path_events(bars))
        whole, _ = entry_session(TAKE_PROFIT_PATH)
        # when the kernel walks each candle's path itself and the executor matches on_bar
        whole.play([Candle.from_bars(bars, i) for i in range(len(bars))])
        # then entries and take-profits fill exactly as with the tick feed
        assert fills(whole) == fills(ticked)
        assert len(whole.of(TradeClosedEvent)) == 1


class TestBreakers:
    def test_a_tripped_breaker_stops_new_entries_until_an_operator_resumes(self):
        # given a session that pauses after one losing trade, and scripted entries later on
        limits = RiskLimits(**{**LOOSE_LIMITS.__dict__, "max_consecutive_losses": 1})
        entries = ScriptedEntries((close_ms(4), close_ms(12), close_ms(16)), ONE, plan())
        session = Session(scripted_config(entries, limits))
        bars = ohlc_bars([*STOP_PATH, *flat(10, 91.0)])
        # when the first trade is stopped out and the second entry comes due
        session.play(path_events(bars.slice(0, 14)))
        # then the breaker tripped and the entry was skipped with the reason, no order sent
        (trip,) = session.of(BreakerEvent)
        assert (trip.breaker, trip.action) == ("consecutive_losses", "PAUSE")
        skipped = next(e for e in session.of(DecisionEvent) if e.ts_ms == close_ms(12))
        assert skipped.action == "SKIP" and "session paused (circuit breaker)" in skipped.reasoning
        entry_orders = [e for e in session.of(KernelOrderEvent) if e.tag == "entry"]
        assert all(e.ts_ms < trip.ts_ms for e in entry_orders)
        # when an operator resumes, the next scripted entry trades again
        session.kernel.resume("checked by operator")
        session.play(path_events(bars.slice(14, len(bars))))
        buys = [f for f in session.of(FillEvent) if f.side == "BUY"]
        assert [b.ts_ms for b in buys] == [START_MS + 5 * HOUR, close_ms(16)]

    def test_the_emergency_stop_cancels_everything_flattens_and_halts(self):
        # given an open position with its take-profit orders working
        entries = ScriptedEntries((close_ms(4), close_ms(9)), ONE, plan())
        session = Session(scripted_config(entries))
        bars = ohlc_bars(flat(12))
        session.play(path_events(bars.slice(0, 7)))
        assert session.kernel.portfolio.position("BTCUSDT").quantity == ONE
        # when the operator presses the emergency stop, then the next prices arrive
        session.kernel.emergency_stop("operator pressed the button")
        session.play(path_events(bars.slice(7, len(bars))))
        # then the tiers were cancelled, the position sold at the next price, and nothing reopened
        statuses = [(e.tag, e.status) for e in session.of(KernelOrderEvent)]
        assert statuses.count(("take_profit", "CANCELLED")) == 3
        assert ("flatten", "FILLED") in statuses
        assert session.kernel.portfolio.open_positions == []
        assert session.kernel.state is SessionState.HALTED
        halt = session.of(BreakerEvent)[0]
        assert (halt.breaker, halt.action) == ("emergency_stop", "HALT")
        assert session.of(TradeClosedEvent)[0].exit_reason == "emergency_stop"
        late = next(e for e in session.of(DecisionEvent) if e.ts_ms == close_ms(9))
        assert late.action == "SKIP" and "session halted" in late.reasoning
        assert len([f for f in session.of(FillEvent) if f.side == "BUY"]) == 1


class TestBadData:
    def bad_ticks(self) -> list[Tick]:
        t = START_MS + 10 * HOUR + 60_000
        return [
            Tick("BTCUSDT", t, math.nan),
            Tick("BTCUSDT", t + 1, 0.0),
            Tick("BTCUSDT", t + 2, -5.0),
            Tick("BTCUSDT", t + 3, 1.0),  # an implausible jump: would hit the stop if believed
            Tick("BTCUSDT", t - 3_600_000, 100.0),  # back in time
        ]

    def test_bad_prices_are_refused_logged_and_pause_then_good_data_resumes(self):
        # given a feed that turns bad for five ticks, and entries due during and after
        entries = ScriptedEntries((close_ms(10), close_ms(11)), ONE, plan())
        session = Session(scripted_config(entries, resume_after_good=10))
        bars = ohlc_bars(flat(14))
        events = path_events(bars.slice(0, 10))
        events += self.bad_ticks() + path_events(bars.slice(10, 14))
        # when it is replayed
        session.play(events)
        # then each bad tick is a DataRejectedEvent, and the fifth pauses the session
        rejected = session.of(DataRejectedEvent)
        assert [r.consecutive for r in rejected] == [1, 2, 3, 4, 5]
        assert [r.pause for r in rejected] == [False] * 4 + [True]
        assert "goes back" in rejected[-1].reason and "implausible" in rejected[3].reason
        pause, resume = session.of(BreakerEvent)
        assert (pause.breaker, pause.action, resume.action) == ("bad_data", "PAUSE", "RESUME")
        # the entry decided while paused was skipped; ten good inputs later trading resumed
        skipped = next(e for e in session.of(DecisionEvent) if e.ts_ms == close_ms(10))
        assert "session paused (bad data)" in skipped.reasoning
        assert resume.ts_ms == close_ms(11)
        assert [f.ts_ms for f in session.of(FillEvent)] == [close_ms(11)]

    def test_an_absurd_print_never_triggers_a_stop(self):
        # given a position with an 8% stop at 92 and a tick at 1.0 in a market at 100
        entries = ScriptedEntries((close_ms(4),), ONE, plan())
        session = Session(scripted_config(entries))
        bars = ohlc_bars(flat(14))
        events = path_events(bars.slice(0, 10))
        events += self.bad_ticks()[3:4] + path_events(bars.slice(10, 14))
        # when it is replayed
        session.play(events)
        # then the print is refused and the position is still held, with no exit order
        (refused,) = session.of(DataRejectedEvent)
        assert "implausible price move" in refused.reason
        assert session.kernel.portfolio.position("BTCUSDT").quantity == ONE
        exits = [e for e in session.of(KernelOrderEvent) if e.side == "SELL"]
        assert {e.tag for e in exits} == {"take_profit"}

    def test_a_bad_candle_never_reaches_the_agents_or_the_decisions(self):
        # given a candle whose high is below its low in the middle of good data
        session = Session(scripted_config(ScriptedEntries((), ONE, None)))
        bars = ohlc_bars(flat(4))
        broken = Candle("BTCUSDT", "1h", START_MS + 4 * HOUR, 100.0, 90.0, 110.0, 100.0, 5.0)
        # when the candles (without ticks) are replayed
        session.play([*(Candle.from_bars(bars, i) for i in range(4)), broken])
        # then it is refused and logged, and no decision is made on it
        (refused,) = session.of(DataRejectedEvent)
        assert refused.kind == "candle" and "inconsistent OHLC" in refused.reason
        assert len(session.of(DecisionEvent)) == 4
        assert len(session.kernel.symbols["BTCUSDT"].window) == 4


class ListJournal:
    """A journal adapter that keeps what it is given (stands in for the database)."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self.commits: list[tuple[int, dict[str, Any]]] = []

    def record(self, event: EngineEvent) -> None:
        self.events.append(event)

    def commit(self, ts_ms: int, checkpoint: Callable[[], dict[str, Any]]) -> None:
        self.commits.append((ts_ms, json.loads(json.dumps(checkpoint()))))


def test_the_journal_gets_every_event_and_a_checkpoint_after_each_candle():
    # given a session writing to a journal
    journal = ListJournal()
    entries = ScriptedEntries((close_ms(4),), ONE, plan())
    session = Session(scripted_config(entries), journal=journal)
    bars = ohlc_bars(TAKE_PROFIT_PATH)
    # when the path is replayed
    session.play(path_events(bars))
    # then it recorded exactly what the bus carried, in order, and committed once per candle
    assert journal.events == session.log
    assert [ts for ts, _ in journal.commits] == [close_ms(i) for i in range(len(bars))]
    last = journal.commits[-1][1]
    assert last["symbols"]["BTCUSDT"]["last_candle_ms"] == int(bars.timestamps[-1])
    assert last["portfolio"]["cash"] == str(session.kernel.portfolio.cash)


def test_a_kernel_driven_by_a_replay_feed_runs_the_same_session():
    # given the take-profit path in a ReplayFeed handed to the kernel itself
    ticked, bars = entry_session(TAKE_PROFIT_PATH)
    ticked.play(path_events(bars))
    driven, _ = entry_session(TAKE_PROFIT_PATH)
    driven.kernel.feed = ReplayFeed(bars, driven.clock, path="auto")
    # when the kernel runs its feed
    candles = driven.kernel.run()
    # then it processed every candle and traded exactly like the hand-fed session
    assert candles == len(bars)
    assert [repr(e) for e in driven.log] == [repr(e) for e in ticked.log]


@settings(max_examples=40, deadline=None)
@given(
    returns=st.lists(st.floats(-0.06, 0.06), min_size=30, max_size=70),
    entry_bars=st.sets(st.integers(2, 60), max_size=6),
    stop=st.floats(0.02, 0.15),
    trailing=st.one_of(st.none(), st.floats(0.01, 0.05)),
    hold_hours=st.integers(1, 20),
)
def test_books_reconcile_whatever_the_path_and_the_exits(
    returns, entry_bars, stop, trailing, hold_hours
):
    # given a random price path and scripted entries with random exit plans
    closes = 100.0 * np.exp(np.cumsum([0.0, *returns]))
    rows = [
        (prev, max(prev, close) * 1.01, min(prev, close) * 0.99, close)
        for prev, close in zip([closes[0], *closes[:-1]], closes, strict=True)
    ]
    entries = ScriptedEntries(
        tuple(close_ms(b) for b in entry_bars), Decimal("10.000"),
        plan(stop=stop, time_stop_ms=hold_hours * HOUR, trailing=trailing),
    )
    costs = PaperCosts(max_participation=None)
    session = Session(scripted_config(entries), costs=costs)
    # when the kernel trades it tick by tick and closes out at the end
    session.play(path_events(ohlc_bars(rows)))
    session.kernel.wind_down()
    tail = ohlc_bars([*rows, *flat(2, rows[-1][3])]).slice(len(rows), len(rows) + 2)
    session.play(path_events(tail))
    # then cash and positions reconcile with the fills, and the exchange agrees
    state = session.kernel.portfolio.snapshot()
    basis = sum((p.cost_basis for p in state.positions), Decimal(0))
    assert state.cash + basis == state.initial_cash + state.realized_pnl - state.fees
    assert state.positions == ()
    balances = session.executor.balances()
    assert balances["USDT"].total == state.cash
    assert "BTC" not in balances or balances["BTC"].total == 0
    trade_ids = [f.trade_id for f in session.of(FillEvent)]
    assert len(trade_ids) == len(set(trade_ids))
    closed = session.of(TradeClosedEvent)
    buys = [f for f in session.of(FillEvent) if f.side == "BUY"]
    assert len(closed) == len({b.client_order_id for b in buys})
    assert all(t.hold_ms >= 0 and t.max_adverse_excursion <= 0 for t in closed)


def test_the_multi_symbol_replay_yields_what_replay_feeds_yield_merged_in_time():
    # given two symbols' bars, the second starting two hours later
    first = ohlc_bars(TAKE_PROFIT_PATH)
    later = ohlc_bars(flat(6, 50.0))
    later = Bars.from_arrays(
        later.timestamps + 2 * HOUR, later.open, later.high, later.low, later.close,
        later.volume, symbol="ETHUSDT", timeframe="1h",
    )
    # when both are replayed together
    merged = list(MultiReplayFeed([first, later], SimulatedClock(0), path="auto"))
    # then each symbol's events are exactly its ReplayFeed's, and time never goes back
    for bars in (first, later):
        alone = list(ReplayFeed(bars, SimulatedClock(0), path="auto"))
        assert [e for e in merged if e.symbol == bars.symbol] == alone
    assert [e.ts_ms for e in merged] == sorted(e.ts_ms for e in merged)
