"""The order desk: places, tracks and books every order the kernel sends.

Guarantees:
- Every order passes the risk guard just before it is created (exits always
  pass: they only reduce risk) and carries a deterministic client order id, so
  re-sending it after a crash returns the order the executor already has.
- Orders are read back from the executor after each price it matched: each
  new status change is published once as a `KernelOrderEvent` (with the
  history so far) and each new fill once as a `FillEvent`, then booked in the
  portfolio; nothing is booked twice, nothing the executor filled is missed.
- Entries are limit orders placed `entry_protection` above the price they are
  placed at (marketable, never filled worse than that), sized by the sizing
  policy at that price; they expire unfilled after `entry_ttl_bars` bars.
  Exits are reduce-only market orders for the whole position; take-profit
  tiers are resting reduce-only limits placed once the entry has filled and
  cancelled before any other exit is sent.
- A position that goes flat produces a `TradeClosedEvent` with its entry
  context and outcome.
- A symbol registered in `owners` (a grid trades it) is booked by its owner:
  each of its fills is still published, booked in the portfolio and checked
  for slippage, then handed to the owner, and so is each of its orders that
  ends; the desk keeps no open trade for it. `reserved_cash` (the part of a
  grid's budget it has not spent) is withheld from entry sizing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from trading.engine.clock import Clock
from trading.engine.events import DecisionEvent, EngineEvent, FillEvent
from trading.engine.execution.protocol import Executor
from trading.engine.kernel.config import KernelConfig
from trading.engine.kernel.ids import OrderIdIssuer
from trading.engine.kernel.records import KernelOrderEvent, TradeClosedEvent, TrailingEvent
from trading.engine.kernel.state import OpenTrade, PendingOrder, SymbolState
from trading.engine.money import ZERO, to_decimal
from trading.engine.orders.model import Fill, Order, OrderSide
from trading.engine.orders.state import OrderStatus
from trading.engine.portfolio import ClosedTrade, Portfolio
from trading.engine.risk import MarketSnapshot, OrderIntent, RiskGuard


@dataclass(frozen=True)
class OrderMeta:
    """Why the kernel sent an order."""

    purpose: str  # entry, exit, take_profit
    reason: str
    reference_price: float  # the price it was placed at (slippage is measured from it)


class PositionOwner(Protocol):
    """Something other than the agents' trades that owns a symbol's position (a grid)."""

    def on_fill(self, fill: Fill, meta: OrderMeta) -> None: ...

    def on_finished(self, order: Order, meta: OrderMeta) -> None: ...


@dataclass
class TrackedOrder:
    order: Order
    meta: OrderMeta
    published: int = 0  # status changes already published
    booked: int = 0  # fills already booked


class TradingDesk:
    def __init__(
        self,
        *,
        config: KernelConfig,
        clock: Clock,
        executor: Executor,
        portfolio: Portfolio,
        guard: RiskGuard,
        ids: OrderIdIssuer,
        publish: Callable[[EngineEvent], None],
        symbols: dict[str, SymbolState],
        on_closed: Callable[[SymbolState, TradeClosedEvent], None],
    ) -> None:
        self.config = config
        self.clock = clock
        self.executor = executor
        self.portfolio = portfolio
        self.guard = guard
        self.ids = ids
        self.publish = publish
        self.symbols = symbols
        self.on_closed = on_closed
        self.tracked: dict[str, TrackedOrder] = {}
        self.fee_rate = to_decimal(config.fee_rate)
        self.protection = to_decimal(config.entry_protection)
        self.owners: dict[str, PositionOwner] = {}
        self.reserved_cash: Callable[[], Decimal] = lambda: ZERO

    # -- price points ------------------------------------------------------------------------

    def on_price(self, sym: SymbolState, price: float, ts_ms: int) -> None:
        """Place what waited for a price, move trailing orders, check the position's exits."""
        if sym.pending is not None:
            self.place_pending(sym, price)
        if sym.trailing is not None:
            self._trail(sym, price, ts_ms)
        trade = sym.trade
        if trade is not None:
            trade.observe(price, ts_ms)
            reason = trade.exit_trigger(price, ts_ms)
            if reason:
                self.place_exit(sym, price, reason)

    def after_execution(self, symbol: str) -> None:
        """Read back this symbol's working orders after the executor saw a price."""
        for client_id in [c for c, t in self.tracked.items() if t.order.symbol == symbol]:
            self.sync(self.executor.fetch_order(client_id))

    def place_pending(self, sym: SymbolState, price: float) -> None:
        """Place the order that waited for a price, at `price`."""
        pending, sym.pending = sym.pending, None
        assert pending is not None
        if pending.purpose == "entry":
            self.place_entry(sym, price)
        else:
            self.place_exit(sym, price, pending.reason)

    def _trail(self, sym: SymbolState, price: float, ts_ms: int) -> None:
        trailing = sym.trailing
        assert trailing is not None
        fired = trailing.on_price(price, ts_ms)
        if fired is None and trailing.is_active:
            return
        purpose = sym.trailing_purpose
        sym.trailing, sym.trailing_purpose = None, ""
        self.publish_trailing(sym.symbol, trailing, purpose)
        if fired is None:  # expired
            if purpose == "entry":
                sym.entry = None
            return
        if purpose == "entry":
            self.place_entry(sym, price)
        else:
            self.place_exit(sym, price, "signal")

    def publish_trailing(self, symbol: str, trailing: Any, purpose: str) -> None:
        self.publish(
            TrailingEvent(
                ts_ms=self.clock.now_ms(),
                symbol=symbol,
                side=trailing.side.value,
                status=trailing.status.value,
                purpose=purpose,
                quantity=trailing.quantity,
                trail=trailing.trail,
                best_price=trailing.best_price,
                trigger_price=trailing.trigger_price,
            )
        )

    # -- placing -----------------------------------------------------------------------------

    def place_entry(self, sym: SymbolState, price: float) -> None:
        entry = sym.entry
        if entry is None:
            return
        ts = self.clock.now_ms()
        instrument = sym.instrument
        limit = instrument.round_price(to_decimal(price) * (1 + self.protection), up=True)
        quantity = self.config.sizing.entry_quantity(
            entry.quantity, self.portfolio.cash - self.reserved_cash(), limit, self.fee_rate,
            instrument,
        )
        if quantity <= 0 or quantity * limit < instrument.min_notional:
            return self._abandon_entry(sym, ts, f"free cash {self.portfolio.cash} buys no lot")
        problem = self.risk_problem(sym.symbol, OrderSide.BUY, quantity, price)
        if problem:
            return self._abandon_entry(sym, ts, f"risk check refused the entry: {problem}")
        order = Order.create(
            client_order_id=self.ids.issue(sym.symbol, ts, "entry"),
            symbol=sym.symbol,
            side=OrderSide.BUY,
            quantity=quantity,
            created_ms=ts,
            limit_price=limit,
            expires_ms=ts + self.config.entry_ttl_bars * self.config.bar_ms,
            tag="entry",
        )
        sym.entry_order = order.client_order_id
        self.submit(order, OrderMeta("entry", "entry", price))

    def _abandon_entry(self, sym: SymbolState, ts: int, why: str) -> None:
        sym.entry = None
        self.publish(DecisionEvent(ts, sym.symbol, "ENTRY_REFUSED", 0.0, why))

    def place_exit(self, sym: SymbolState, price: float, reason: str) -> None:
        """Close the whole position with a reduce-only market order (take-profits cancelled)."""
        trade = sym.trade
        held = self.portfolio.position(sym.symbol).quantity
        if trade is None or held <= 0 or trade.exit_order is not None:
            return
        if self.clock.now_ms() < trade.exit_retry_ms:
            sym.pending = PendingOrder(OrderSide.SELL, "exit", held, reason, self.clock.now_ms())
            return
        self.cancel(trade.take_profits)
        held = self.portfolio.position(sym.symbol).quantity
        self.risk_problem(sym.symbol, OrderSide.SELL, held, price)
        ts = self.clock.now_ms()
        order = Order.create(
            client_order_id=self.ids.issue(sym.symbol, ts, "exit"),
            symbol=sym.symbol,
            side=OrderSide.SELL,
            quantity=held,
            created_ms=ts,
            reduce_only=True,
            tag=reason,
        )
        trade.exit_order, trade.exit_reason = order.client_order_id, reason
        self.submit(order, OrderMeta("exit", reason, price))

    def place_take_profits(self, sym: SymbolState) -> None:
        trade = sym.trade
        if trade is None or trade.plan is None or not trade.plan.take_profits:
            return
        tiers = trade.plan.take_profits
        whole = abs(sum(t.fraction for t in tiers) - 1.0) < 1e-9
        remaining = self.portfolio.position(sym.symbol).quantity
        ts = self.clock.now_ms()
        for index, tier in enumerate(tiers):
            last = index == len(tiers) - 1
            fraction = to_decimal(tier.fraction)
            share = sym.instrument.round_quantity(trade.initial_quantity * fraction)
            quantity = remaining if last and whole else min(share, remaining)
            if quantity <= 0:
                continue
            price = to_decimal(trade.entry_price * (1.0 + tier.gain))
            order = Order.create(
                client_order_id=self.ids.issue(sym.symbol, ts, f"take_profit_{index}"),
                symbol=sym.symbol,
                side=OrderSide.SELL,
                quantity=quantity,
                created_ms=ts,
                limit_price=sym.instrument.round_price(price, up=True),
                reduce_only=True,
                tag="take_profit",
            )
            trade.take_profits.append(order.client_order_id)
            remaining -= quantity
            self.submit(order, OrderMeta("take_profit", f"take_profit_{index}", float(price)))

    def cancel(self, client_ids: list[str]) -> None:
        for client_id in list(client_ids):
            if client_id in self.tracked:
                self.sync(self.executor.cancel(client_id))

    def risk_problem(self, symbol: str, side: OrderSide, quantity: Decimal, price: float) -> str:
        """Why the risk guard refuses this order now, marked at `price` ("" if it approves)."""
        marks = {
            s: to_decimal(state.mark)
            for s, state in self.symbols.items()
            if state.mark == state.mark
        }
        marks[symbol] = to_decimal(price)
        intent = OrderIntent(symbol, side, quantity, to_decimal(price))
        marked = MarketSnapshot(self.clock.now_ms(), marks)
        verdict = self.guard.check(intent, self.portfolio, marked)
        return "" if verdict.approved else verdict.reason

    # -- tracking and booking ----------------------------------------------------------------

    def submit(self, order: Order, meta: OrderMeta) -> None:
        self.tracked[order.client_order_id] = TrackedOrder(order, meta)
        self.sync(order)
        self.sync(self.executor.submit(order))

    def adopt(self, order: Order, meta: OrderMeta) -> None:
        """Track an order sent by someone else on the kernel's behalf (the emergency stop)."""
        if order.client_order_id not in self.tracked:
            self.tracked[order.client_order_id] = TrackedOrder(order, meta)
        self.sync(order)

    def sync(self, order: Order) -> None:
        tracked = self.tracked.get(order.client_order_id)
        if tracked is None:
            return
        tracked.order = order
        while tracked.published < len(order.history):  # loops, not slices: sync may re-enter
            tracked.published += 1
            self.publish(KernelOrderEvent.for_transition(order, tracked.published - 1))
        while tracked.booked < len(order.fills):
            tracked.booked += 1
            self._book(order.fills[tracked.booked - 1], tracked.meta)
        if order.status.is_terminal and self.tracked.get(order.client_order_id) is tracked:
            del self.tracked[order.client_order_id]
            self._finished(order, tracked.meta)

    def _book(self, fill: Fill, meta: OrderMeta) -> None:
        self.publish(FillEvent.from_fill(fill))
        sym = self.symbols[fill.symbol]
        closed = self.portfolio.apply(fill)
        if meta.purpose != "take_profit":
            reference = to_decimal(meta.reference_price)
            self.guard.record_execution(fill.side, reference, fill.price, fill.ts_ms)
        owner = self.owners.get(fill.symbol)
        if owner is not None:
            return owner.on_fill(fill, meta)
        if fill.side is OrderSide.BUY and sym.trade is None:
            self._open_trade(sym, fill)
        elif fill.side is OrderSide.BUY and sym.trade is not None:
            position = self.portfolio.position(fill.symbol)
            sym.trade.initial_quantity += fill.quantity
            sym.trade.entry_price = float(position.average_entry or fill.price)
        if closed is not None:
            self._close_trade(sym, closed, fill, meta)

    def _open_trade(self, sym: SymbolState, fill: Fill) -> None:
        entry = sym.entry
        price = float(fill.price)
        sym.trade = OpenTrade(
            symbol=sym.symbol,
            opened_ms=fill.ts_ms,
            entry_price=price,
            initial_quantity=fill.quantity,
            plan=entry.plan if entry else None,
            context=entry.context if entry else {},
            high=price,
            high_ms=fill.ts_ms,
            low=price,
            entry_order=fill.client_order_id,
        )

    def _finished(self, order: Order, meta: OrderMeta) -> None:
        owner = self.owners.get(order.symbol)
        if owner is not None:
            return owner.on_finished(order, meta)
        sym = self.symbols[order.symbol]
        trade = sym.trade
        if meta.purpose == "entry":
            sym.entry, sym.entry_order = None, None
            if trade is not None and trade.entry_order == order.client_order_id:
                trade.entry_order = None
                self.place_take_profits(sym)
        elif trade is not None and meta.purpose == "take_profit":
            if order.client_order_id in trade.take_profits:
                trade.take_profits.remove(order.client_order_id)
        elif trade is not None and trade.exit_order == order.client_order_id:
            trade.exit_order = None
            if order.status is OrderStatus.REJECTED:  # retry a bar later, not on every price
                trade.exit_retry_ms = order.updated_ms + self.config.bar_ms

    def _close_trade(
        self, sym: SymbolState, closed: ClosedTrade, fill: Fill, meta: OrderMeta
    ) -> None:
        trade = sym.trade
        sym.trade = None
        if trade is None:
            return
        self.cancel([c for c in trade.take_profits if c != fill.client_order_id])
        self.guard.record_closed_trade(closed)
        event = trade_record(closed, trade, meta.reason, self.config)
        self.publish(event)
        self.on_closed(sym, event)


def trade_record(
    closed: ClosedTrade, trade: OpenTrade, reason: str, config: KernelConfig
) -> TradeClosedEvent:
    entry = float(closed.average_entry)
    net_return = float(closed.return_fraction)
    mfe = trade.high / entry - 1.0
    price_return = float(closed.average_exit) / entry - 1.0
    return TradeClosedEvent(
        ts_ms=closed.closed_ms,
        symbol=closed.symbol,
        direction=closed.direction,
        opened_ms=closed.opened_ms,
        closed_ms=closed.closed_ms,
        quantity=closed.quantity,
        entry_price=closed.average_entry,
        exit_price=closed.average_exit,
        realized_pnl=closed.realized_pnl,
        fees=closed.fees,
        net_pnl=closed.net_pnl,
        net_return=net_return,
        hold_ms=closed.hold_ms,
        max_adverse_excursion=min(0.0, trade.low / entry - 1.0),
        max_favourable_excursion=max(0.0, mfe),
        best_exit_price=trade.high,
        best_exit_ms=trade.high_ms,
        efficiency=price_return / mfe if mfe > 0 else None,
        outcome=config.outcome_bands.classify(net_return),
        exit_reason=reason,
        entry_context=trade.context,
    )


def position_quantity(portfolio: Portfolio, symbol: str) -> Decimal:
    held = portfolio.position(symbol).quantity
    return held if held > 0 else ZERO
