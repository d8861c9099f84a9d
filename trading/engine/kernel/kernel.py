"""The trading kernel: one event-driven loop for replay, paper and live trading.

Per closed candle: feed guard -> market window -> agents vote (orchestrator)
-> decision policy -> (risk check at placement) -> orders -> executor ->
fills -> portfolio -> exits -> events. Between candles every observed price
places what waited for a price, moves trailing orders, checks stops and time
stops, and only then reaches the executor, so an order decided on a price can
fill at that price. Replay, paper and live differ only by the injected clock,
feed and executor.

Guarantees:
- Same config, same feed, same executor state, same timer -> the same events
  in the same order (the kernel has no randomness and reads time only from
  the clock; agent time budgets read the injected `timer`).
- Bad data never trades: a rejected tick or candle is published as a
  `DataRejectedEvent` and touches nothing else; when the feed guard asks for
  a pause the kernel publishes a "bad_data" PAUSE `BreakerEvent` and opens no
  new positions until `resume_after_good` good inputs in a row (or an operator)
  lift it. Exits keep working on good prices.
- While the risk guard is paused or halted, or after `wind_down`, decided
  entries become skips with the reason; exits still run.
- A candle whose inside was not seen as ticks (a candle-only feed) is walked
  along its intrabar path for trailing orders and stops, and a simulating
  executor matches it with `on_bar`; orders are then placed at the close.
- Every decision, including skips, is published as a `DecisionEvent` whose
  `details` (decision and vote as JSON) are computed only when read.
- `checkpoint()` / `TradingKernel.restore(...)` (see `checkpoint.py`) resume a
  session with no order or fill lost or repeated.
- With `config.grid`, a `GridTrader` owns the grid's symbols (see
  `grid_policy`): decided entries and exits there become skips, the grid sees
  every accepted price and acts after each decision with the agents' vote.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.clock import Clock
from trading.engine.consensus import weighted_consensus
from trading.engine.decision import Decision, DecisionAction
from trading.engine.events import (
    BreakerEvent,
    DataRejectedEvent,
    DecisionEvent,
    EngineEvent,
    EventBus,
    PriceEvent,
)
from trading.engine.execution.protocol import Executor
from trading.engine.feed_guard import DataVerdict, FeedGuard
from trading.engine.feeds import Candle, Feed, Tick, intrabar_path
from trading.engine.kernel.config import KernelConfig
from trading.engine.kernel.context import entry_context, rebuilt_signals
from trading.engine.kernel.desk import OrderMeta, TradingDesk
from trading.engine.kernel.grid_trader import GridTrader
from trading.engine.kernel.ids import OrderIdIssuer
from trading.engine.kernel.incremental import SharedSeries
from trading.engine.kernel.policies import DecisionInputs, affordable
from trading.engine.kernel.ports import JournalSink, PriceMatcher
from trading.engine.kernel.records import EquityEvent, LazyMapping, TradeClosedEvent
from trading.engine.kernel.state import EntryPlan, PendingOrder, SymbolState, build_agents
from trading.engine.kernel.track_record import TrackRecord
from trading.engine.market import Bars
from trading.engine.money import ZERO, to_decimal
from trading.engine.orchestrator import Orchestrator, Vote
from trading.engine.orders.ids import ClientOrderIds
from trading.engine.orders.model import OrderSide
from trading.engine.portfolio import Portfolio
from trading.engine.risk import (
    BreakerAction,
    RiskGuard,
    SessionState,
    Trip,
    emergency_stop,
)
from trading.engine.risk import (
    MarketSnapshot as RiskMarks,
)

Timer = Callable[[], float]


class TradingKernel:
    def __init__(
        self,
        config: KernelConfig,
        *,
        clock: Clock,
        executor: Executor,
        bus: EventBus,
        feed: Feed | None = None,
        journal: JournalSink | None = None,
        timer: Timer = time.perf_counter,
        history: Mapping[str, Bars] | None = None,
    ) -> None:
        """`history`: closed bars before the feed starts, to warm the agents up (no trading).

        Give the executor no event bus: the kernel publishes order and fill events itself.
        """
        self.config = config
        self.clock = clock
        self.executor = executor
        self.bus = bus
        self.feed = feed
        self.journal = journal
        self.matcher = executor if isinstance(executor, PriceMatcher) else None
        self.portfolio = Portfolio(config.capital_decimal, quote=config.quote)
        self.guard = RiskGuard(config.limits)
        self.feed_guard = FeedGuard(clock, config.feed_guard)
        self.ids = OrderIdIssuer(config.session_id, config.id_prefix)
        self.symbols = {s: self._symbol_state(s, timer) for s in config.symbols}
        self.desk = TradingDesk(
            config=config, clock=clock, executor=executor, portfolio=self.portfolio,
            guard=self.guard, ids=self.ids, publish=self._publish, symbols=self.symbols,
            on_closed=self._on_trade_closed,
        )
        self.grid = None if config.grid is None else GridTrader(
            config.grid, config=config, desk=self.desk, symbols=self.symbols, clock=clock,
            new_risk_block=self.new_risk_block, publish=self._publish,
            halted=lambda: self.state is SessionState.HALTED, equity=lambda: self.equity_mark,
        )
        if self.grid is not None:
            self.desk.reserved_cash = self.grid.reserved_cash
        self.record = TrackRecord()
        self.data_paused = False
        self.good_streak = 0
        self.winding_down = False
        self.first_entry_done = False
        self._breakers_seen = 0
        self.equity_mark: Decimal = config.capital_decimal
        self.exposure_mark: Decimal = ZERO
        if history:
            self.warm_up(history)

    def _symbol_state(self, symbol: str, timer: Timer) -> SymbolState:
        config = self.config
        series = SharedSeries()
        voters, forms = build_agents(
            config.agent_list(), series, config.window_bars, config.incremental_agents
        )
        names = {v.name for v in voters}
        orchestrator = Orchestrator(
            voters,
            weights={k: w for k, w in config.weights.items() if k in names},
            enabled=None if config.enabled is None else [n for n in config.enabled if n in names],
            budget_s=config.agent_budget_s,
            timer=timer,
        )
        instrument = config.instrument(symbol)
        return SymbolState(
            instrument, config.timeframe, config.window_bars, orchestrator, forms, series
        )

    # -- running -----------------------------------------------------------------------------

    def run(self, max_candles: int | None = None) -> int:
        """Process the feed's events; returns the number of candles processed."""
        if self.feed is None:
            raise ValueError("this kernel was built without a feed")
        candles = 0
        for event in self.feed:
            self.process(event)
            if isinstance(event, Candle):
                candles += 1
                if max_candles is not None and candles >= max_candles:
                    break
        return candles

    def process(self, event: Tick | Candle) -> None:
        if isinstance(event, Tick):
            self.on_tick(event)
        else:
            self.on_candle(event)

    def warm_up(self, history: Mapping[str, Bars]) -> None:
        """Feed closed bars to the windows and agents without deciding or trading."""
        for symbol, bars in history.items():
            sym = self.symbols[symbol]
            for index in range(len(bars)):
                sym.learn(Candle.from_bars(bars, index))

    # -- prices ------------------------------------------------------------------------------

    def on_tick(self, tick: Tick) -> None:
        sym = self.symbols.get(tick.symbol)
        verdict = self.feed_guard.check_tick(tick)
        if sym is None or not verdict.accepted:
            return self._rejected(tick.symbol, "tick", verdict, sym is None)
        if self.data_paused:
            self._accepted()
        sym.ticks_in_bar += 1
        sym.mark = tick.price
        self._publish(PriceEvent(self.clock.now_ms(), tick.symbol, tick.price))
        if sym.pending is not None or sym.trailing is not None or sym.trade is not None:
            self.desk.on_price(sym, tick.price, tick.ts_ms)
        if self.matcher is not None:
            self.matcher.on_tick(tick)
        if self.desk.tracked:
            self.desk.after_execution(tick.symbol)
        if self.grid is not None:
            self.grid.on_price(sym, tick.price, tick.ts_ms)
        if len(self.guard.breaker.events) > self._breakers_seen:
            self._flush_breakers()

    def on_candle(self, candle: Candle) -> None:
        sym = self.symbols.get(candle.symbol)
        verdict = self.feed_guard.check_candle(candle)
        if sym is None or not verdict.accepted:
            return self._rejected(candle.symbol, "candle", verdict, sym is None)
        self._accepted()
        walked = sym.ticks_in_bar == 0
        if walked:
            self._walk(sym, candle)
        sym.ticks_in_bar = 0
        sym.candle_driven = walked
        sym.learn(candle)
        ts = self.clock.now_ms()
        self._observe(ts)
        if not self.first_entry_done:
            self.first_entry_done = bool(self.record.trades or self.portfolio.open_positions)
        decision, vote = self._decide(sym, candle, ts)
        self._act(sym, decision, vote, candle, ts)
        if walked and sym.pending is not None:
            self.desk.place_pending(sym, candle.close)
        if self.grid is not None:
            self.grid.on_candle(sym, candle, vote)
        self._flush_breakers()
        self._publish_equity(ts)
        if self.journal is not None:
            self.journal.commit(ts, self.checkpoint)

    def _walk(self, sym: SymbolState, candle: Candle) -> None:
        """A candle seen only whole: match it, then check trailing orders and stops on its path."""
        if self.matcher is not None:
            self.matcher.on_bar(candle)
            self.desk.after_execution(sym.symbol)
        for point in intrabar_path(candle):
            self.desk.on_price(sym, point.price, point.ts_ms)
            if self.grid is not None:
                self.grid.on_price(sym, point.price, point.ts_ms)
        self._publish(PriceEvent(self.clock.now_ms(), candle.symbol, candle.close))

    # -- deciding ----------------------------------------------------------------------------

    def _decide(self, sym: SymbolState, candle: Candle, ts: int) -> tuple[Decision, Vote]:
        peers = {
            s: o.window.bars() for s, o in self.symbols.items() if o is not sym and len(o.window)
        }
        vote = sym.orchestrator.vote(MarketSnapshot(bars=sym.window.bars(), peers=peers, now_ms=ts))
        held = self.portfolio.position(sym.symbol).quantity
        inputs = DecisionInputs(
            candle=candle,
            vote=vote,
            profile=self.config.profile,
            position_qty=held if held > 0 else ZERO,
            equity=float(self.equity_mark),
            cash=float(self.portfolio.cash - self.desk.reserved_cash()),
            exposure=float(self.exposure_mark),
            open_positions=len(self.portfolio.open_positions),
            lot_rules=sym.lot_rules,
            daily_volatility=sym.stats.daily_volatility,
            avg_bar_volume=sym.stats.avg_bar_volume,
            session_start_price=sym.session_start_price,
            awaiting_first_entry=not self.first_entry_done,
            track_record=self.record.stats(),
        )
        decision = self._gate(sym, self.config.decision.decide(inputs))
        details = LazyMapping(lambda: {"decision": decision.as_dict(), "vote": vote.as_dict()})
        self._publish(
            DecisionEvent(
                ts, sym.symbol, decision.action.value, decision.confidence, decision.reasoning,
                details,
            )
        )
        return decision, vote

    def _gate(self, sym: SymbolState, decision: Decision) -> Decision:
        block = ""
        if self.grid is not None and self.grid.owns(sym.symbol):
            if decision.action is not DecisionAction.SKIP:
                block = f"the grid trades {sym.symbol}: the agents only modulate it"
        elif decision.action is DecisionAction.TRAIL_BUY:
            block = self._entry_block(sym)
        elif decision.action is DecisionAction.TRAIL_SELL and sym.exit_in_flight:
            block = "an exit is already working"
        if not block:
            return decision
        return replace(decision, action=DecisionAction.SKIP, reasons=(*decision.reasons, block))

    def _entry_block(self, sym: SymbolState) -> str:
        block = self.new_risk_block()
        if not block and sym.entry_in_flight:
            return "an entry is already working"
        return block

    def new_risk_block(self) -> str:
        """Why nothing that adds risk may be opened now ("" when it may)."""
        if self.winding_down:
            return "the session is winding down: no new entries"
        state = self.state
        if state is not SessionState.ACTIVE:
            why = "bad data" if self.data_paused else "circuit breaker"
            return f"session {state.value.lower()} ({why}): no new entries"
        return ""

    def _act(
        self, sym: SymbolState, decision: Decision, vote: Vote, candle: Candle, ts: int
    ) -> None:
        if decision.action is DecisionAction.TRAIL_BUY:
            plan = self.config.exits.plan_for(decision)
            context = entry_context(sym, decision, vote, candle)
            sym.entry = EntryPlan(decision.quantity, plan, context, ts)
            quantity = decision.quantity
            if quantity <= 0:
                price = to_decimal(candle.close)
                fee = to_decimal(self.config.fee_rate)
                quantity = affordable(self.portfolio.cash, price, fee, sym.instrument)
            self._start(sym, OrderSide.BUY, "entry", quantity, decision, candle, ts)
        elif decision.action is DecisionAction.TRAIL_SELL:
            held = self.portfolio.position(sym.symbol).quantity
            self._start(sym, OrderSide.SELL, "exit", held, decision, candle, ts)

    def _start(
        self, sym: SymbolState, side: OrderSide, purpose: str, quantity: Decimal,
        decision: Decision, candle: Candle, ts: int,
    ) -> None:
        if quantity <= 0:
            if purpose == "entry":
                sym.entry = None
            return
        trailing = self.config.execution.trailing_order(
            side, quantity, decision.trail_distance, candle.close, ts, purpose
        )
        if trailing is None:
            reason = "entry" if purpose == "entry" else "signal"
            sym.pending = PendingOrder(side, purpose, quantity, reason, ts)
            return
        sym.trailing, sym.trailing_purpose = trailing, purpose
        self.desk.publish_trailing(sym.symbol, trailing, purpose)

    def _on_trade_closed(self, sym: SymbolState, event: TradeClosedEvent) -> None:
        self.record.add(event.net_return)
        signals = rebuilt_signals(event.entry_context)
        if signals:
            consensus = weighted_consensus(signals, {})
            vote = Vote(event.opened_ms, sym.symbol, signals, (), consensus, {}, {})
            sym.orchestrator.record_vote_outcome(vote, event.net_return)

    # -- account -----------------------------------------------------------------------------

    def _marks(self) -> dict[str, Decimal]:
        return {s: to_decimal(o.mark) for s, o in self.symbols.items() if o.mark == o.mark}

    def _observe(self, ts: int) -> None:
        marks = self._marks()
        self.guard.observe(self.portfolio, RiskMarks(ts, marks))
        assert self.guard.last_equity is not None
        self.equity_mark = self.guard.last_equity
        self.exposure_mark = self.portfolio.gross_exposure(marks)

    def _publish_equity(self, ts: int) -> None:
        self._publish(
            EquityEvent(
                ts_ms=ts,
                equity=self.equity_mark,
                cash=self.portfolio.cash,
                exposure=self.exposure_mark,
                realized_pnl=self.portfolio.realized_pnl,
                fees=self.portfolio.fees,
                drawdown=self.guard.drawdown(),
                state=self.state.value,
            )
        )

    @property
    def state(self) -> SessionState:
        state = self.guard.state(self.clock.now_ms())
        if state is SessionState.ACTIVE and self.data_paused:
            return SessionState.PAUSED
        return state

    # -- bad data ----------------------------------------------------------------------------

    def _rejected(self, symbol: str, kind: str, verdict: DataVerdict, unknown: bool) -> None:
        ts = self.clock.now_ms()
        self.good_streak = 0
        reason = f"unknown symbol {symbol}" if unknown else verdict.reason
        pause = verdict.pause and not unknown
        self._publish(
            DataRejectedEvent(ts, symbol, kind, reason, verdict.consecutive_rejects, pause)
        )
        if pause and not self.data_paused:
            self.data_paused = True
            why = f"{symbol}: {verdict.consecutive_rejects} bad {kind}s in a row, last: {reason}"
            limit = float(self.config.feed_guard.pause_after)
            self._publish(
                BreakerEvent(
                    ts, "bad_data", "PAUSE", why, float(verdict.consecutive_rejects), limit
                )
            )

    def _accepted(self) -> None:
        if not self.data_paused:
            return
        self.good_streak += 1
        needed = self.config.resume_after_good
        if needed is not None and self.good_streak >= needed:
            self.data_paused = False
            why = f"{self.good_streak} good inputs in a row"
            self._publish(BreakerEvent(self.clock.now_ms(), "bad_data", "RESUME", why))

    # -- operator commands -------------------------------------------------------------------

    def pause(self, reason: str = "paused by operator") -> None:
        trip = Trip("operator", BreakerAction.PAUSE, reason, self.clock.now_ms())
        self.guard.breaker.trip(trip)
        self._flush_breakers()

    def resume(self, reason: str = "resumed by operator") -> None:
        ts = self.clock.now_ms()
        self.guard.resume(ts, reason)
        self._flush_breakers()
        if self.data_paused:
            self.data_paused, self.good_streak = False, 0
            self._publish(BreakerEvent(ts, "bad_data", "RESUME", reason))

    def emergency_stop(self, reason: str = "emergency stop") -> None:
        """Halt, drop what waits, cancel working orders and flatten every position."""
        ts = self.clock.now_ms()
        self._drop_waiting(entries_only=False)
        ids = ClientOrderIds(self.config.session_id, prefix=self.config.id_prefix)
        report = emergency_stop(
            guard=self.guard, portfolio=self.portfolio, executor=self.executor, ids=ids,
            reason=reason, ts_ms=ts,
        )
        for order in report.cancelled:
            self.desk.sync(order)
        for order in report.flatten_orders:
            sym = self.symbols[order.symbol]
            if sym.trade is not None:
                sym.trade.exit_order = order.client_order_id
                sym.trade.exit_reason = "emergency_stop"
            self.desk.adopt(order, OrderMeta("exit", "emergency_stop", sym.mark))
        self._flush_breakers()

    def wind_down(self, reason: str = "end") -> None:
        """Open nothing more and close every position at the next price (end of a replay)."""
        self.winding_down = True
        self._drop_waiting(entries_only=True)
        if self.grid is not None:
            self.grid.wind_down(reason)
        ts = self.clock.now_ms()
        for sym in self.symbols.values():
            if self.grid is not None and self.grid.owns(sym.symbol):
                continue
            if sym.trailing is not None:  # a trailing exit: the closing order replaces it
                sym.trailing.cancel(ts)
                self.desk.publish_trailing(sym.symbol, sym.trailing, sym.trailing_purpose)
                sym.trailing, sym.trailing_purpose = None, ""
            held = self.portfolio.position(sym.symbol).quantity
            if held <= 0 or sym.exit_in_flight:
                continue
            sym.pending = PendingOrder(OrderSide.SELL, "exit", held, reason, ts)
            if sym.candle_driven:
                self.desk.place_pending(sym, sym.mark)

    def _drop_waiting(self, *, entries_only: bool) -> None:
        ts = self.clock.now_ms()
        for sym in self.symbols.values():
            if sym.pending is not None and (sym.pending.purpose == "entry" or not entries_only):
                sym.pending = None
            if sym.trailing is not None and (sym.trailing_purpose == "entry" or not entries_only):
                sym.trailing.cancel(ts)
                self.desk.publish_trailing(sym.symbol, sym.trailing, sym.trailing_purpose)
                sym.trailing, sym.trailing_purpose = None, ""
            if sym.entry_order is not None:
                self.desk.cancel([sym.entry_order])
            sym.entry = None if sym.entry_order is None else sym.entry

    # -- events ------------------------------------------------------------------------------

    def _publish(self, event: EngineEvent) -> None:
        if self.journal is not None:
            self.journal.record(event)
        self.bus.publish(event)

    def _flush_breakers(self) -> None:
        events = self.guard.breaker.events
        while self._breakers_seen < len(events):
            self._breakers_seen += 1
            self._publish(events[self._breakers_seen - 1])

    # -- checkpoints -------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """The kernel's whole state as JSON-ready values (see `checkpoint.py`)."""
        from trading.engine.kernel.checkpoint import kernel_checkpoint

        return kernel_checkpoint(self)

    @classmethod
    def restore(
        cls,
        config: KernelConfig,
        checkpoint: Mapping[str, Any],
        *,
        clock: Clock,
        executor: Executor,
        bus: EventBus,
        feed: Feed | None = None,
        journal: JournalSink | None = None,
        timer: Timer = time.perf_counter,
        history: Mapping[str, Bars] | None = None,
    ) -> TradingKernel:
        """A kernel resumed from `checkpoint`; `history`: the bars up to it, to warm agents up."""
        from trading.engine.kernel.checkpoint import apply_checkpoint

        kernel = cls(
            config, clock=clock, executor=executor, bus=bus, feed=feed, journal=journal,
            timer=timer, history=history,
        )
        apply_checkpoint(kernel, checkpoint)
        return kernel
