"""Paper execution: a simulated exchange driven by the prices the engine observes.

Guarantees (on top of the `Executor` port's idempotency):
- Orders fill only against price points (`on_tick`, or the four-point path of
  `on_bar`) at or after their submission time, never against the past.
- A MARKET order, and a LIMIT order already marketable at the first point it
  sees, fills as a taker at the observed price moved against it by half the
  spread, the fixed slippage and the impact of its participation (a marketable
  limit never beyond its limit). A resting LIMIT fills as a maker at its limit
  price, only when the price trades through it (strictly below a buy limit,
  above a sell limit).
- At one price point all fills of a symbol together take at most
  `max_participation` of that point's volume (oldest orders first); the rest of
  an order stays working (PARTIAL) for the next points. Quantities are rounded
  down to the lot size, taker prices rounded against the trader to the tick.
- Limit buys reserve quote (with the worst fee), sells reserve the base asset;
  an order that cannot be funded is REJECTED. A market buy is capped to what
  the free quote pays for; with nothing affordable its remainder is CANCELLED.
  Short sales are refused unless `allow_short`; a reduce-only order larger than
  the holding it reduces is REJECTED (it would open or flip a position).
- Working orders past `expires_ms` expire at the first point at or after it.
- Fill trade ids are `<client order id>-<n>` (the n-th fill of that order), so
  they stay unique when a session resumes its orders after a restart (`resume`).
- With a bus, every status change is published as an `OrderEvent` and every
  fill as a `FillEvent`, after the executor's own state is complete, so a
  failing subscriber can never leave balances and orders out of step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal

from trading.engine.clock import Clock
from trading.engine.events import EventBus, EventDeliveryError, FillEvent, OrderEvent
from trading.engine.execution.costs import PaperCosts
from trading.engine.execution.ledger import BalanceLedger
from trading.engine.execution.protocol import (
    Balance,
    DuplicateClientOrderId,
    ExecutionError,
    UnknownOrder,
    known_submission,
)
from trading.engine.feeds import Candle, PathOrder, Tick, intrabar_path
from trading.engine.instruments import Instrument
from trading.engine.money import ONE, ZERO, Number, to_decimal
from trading.engine.orders.model import Fill, Liquidity, Order, OrderSide, OrderType
from trading.engine.orders.state import OrderStatus


class PaperExecutor:
    def __init__(
        self,
        *,
        instruments: Iterable[Instrument],
        balances: Mapping[str, Number],
        clock: Clock,
        costs: PaperCosts | None = None,
        allow_short: bool = False,
        path: PathOrder = "auto",
        bus: EventBus | None = None,
    ) -> None:
        self.instruments = {i.symbol: i for i in instruments}
        self.clock = clock
        self.costs = costs or PaperCosts()
        self.allow_short = allow_short
        self.path: PathOrder = path
        self.bus = bus
        self.ledger = BalanceLedger(balances)
        self._orders: dict[str, Order] = {}
        self._working: dict[str, list[str]] = {}  # symbol -> client ids, oldest first
        self._unseen: set[str] = set()  # working orders that have not met a price yet
        self._last_tick: dict[str, float] = {}
        self._outbox: list[OrderEvent | FillEvent] = []

    # -- Executor port -----------------------------------------------------------------------

    def submit(self, order: Order) -> Order:
        known = known_submission(self._orders, order)
        if known is not None:
            return known
        placed = order.submit(
            self.clock.now_ms(), exchange_order_id=f"paper-{order.client_order_id}"
        )
        self._record(placed)
        problem = self._admission_problem(placed) or self._reserve(placed, placed.quantity)
        if problem:
            placed = self._record(placed.reject(placed.updated_ms, problem))
        else:
            self._working.setdefault(placed.symbol, []).append(placed.client_order_id)
            self._unseen.add(placed.client_order_id)
        self._flush()
        return placed

    def resume(self, orders: Iterable[Order]) -> None:
        """Reload orders saved at a checkpoint, after a restart.

        Finished orders are remembered, so a retried submit stays idempotent;
        working ones match again and re-reserve their remaining funds from the
        balances given to the constructor (the account's totals at the checkpoint).
        """
        for order in orders:
            if order.client_order_id in self._orders:
                raise DuplicateClientOrderId(f"order {order.client_order_id} is already known")
            if order.status is OrderStatus.PENDING:
                raise ExecutionError(f"order {order.client_order_id} was never submitted")
            if order.status.is_working:
                problem = self._reserve(order, order.remaining_quantity)
                if problem:
                    raise ExecutionError(f"cannot resume {order.client_order_id}: {problem}")
                self._working.setdefault(order.symbol, []).append(order.client_order_id)
            self._orders[order.client_order_id] = order

    def cancel(self, client_order_id: str) -> Order:
        order = self.fetch_order(client_order_id)
        if order.status.is_terminal:
            return order
        cancelled = self._finish(order.cancel(max(self.clock.now_ms(), order.updated_ms)))
        self._flush()
        return cancelled

    def fetch_order(self, client_order_id: str) -> Order:
        try:
            return self._orders[client_order_id]
        except KeyError:
            raise UnknownOrder(f"no order with client id {client_order_id}") from None

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        symbols = [symbol] if symbol is not None else list(self._working)
        return [self._orders[c] for s in symbols for c in self._working.get(s, [])]

    def balances(self) -> dict[str, Balance]:
        return self.ledger.snapshot()

    def last_price(self, symbol: str) -> Decimal | None:
        """The last price seen for `symbol` (a tick or a bar's close)."""
        price = self._last_tick.get(symbol)
        return None if price is None else to_decimal(price)

    # -- market data -------------------------------------------------------------------------

    def on_bar(self, candle: Candle) -> list[Fill]:
        """Match working orders along the bar's intra-bar path (see `feeds.intrabar_path`)."""
        fills: list[Fill] = []
        for tick in intrabar_path(candle, self.path):
            fills.extend(self.on_tick(tick))
        return fills

    def on_tick(self, tick: Tick) -> list[Fill]:
        """Match this symbol's working orders against one observed price."""
        self._last_tick[tick.symbol] = tick.price
        working = self._working.get(tick.symbol)
        if not working:
            return []
        price = to_decimal(tick.price)
        capacity = self._capacity(tick.volume)
        fills: list[Fill] = []
        for client_id in list(working):
            order = self._orders[client_id]
            if order.updated_ms > tick.ts_ms:
                continue  # placed after this price was observed
            if order.is_expired_at(tick.ts_ms):
                self._finish(order.expire(tick.ts_ms))
                continue
            fill = self._match(order, price, tick, capacity)
            self._unseen.discard(client_id)
            if fill is not None:
                fills.append(fill)
                if capacity is not None:
                    capacity -= fill.quantity
        self._flush()
        return fills

    # -- admission ---------------------------------------------------------------------------

    def _admission_problem(self, order: Order) -> str:
        instrument = self.instruments.get(order.symbol)
        if instrument is None:
            return f"unknown symbol {order.symbol}"
        if not instrument.is_lot_multiple(order.quantity):
            return f"quantity {order.quantity} is not a multiple of the lot {instrument.lot_size}"
        if order.limit_price is not None and not instrument.is_tick_multiple(order.limit_price):
            return f"price {order.limit_price} is not a multiple of the tick {instrument.tick_size}"
        reference = order.limit_price or self.last_price(order.symbol)
        if reference is not None and order.quantity * reference < instrument.min_notional:
            return f"notional below the minimum {instrument.min_notional}"
        if order.is_expired_at(order.updated_ms):
            return "already expired"
        if order.reduce_only:
            base = self.ledger.snapshot().get(instrument.base)
            held = ZERO if base is None else base.total * order.side.sign * -1
            if order.quantity > held:
                return f"reduce-only order of {order.quantity} exceeds the {held} held"
        return ""

    def _reserve(self, order: Order, quantity: Decimal) -> str:
        instrument = self.instruments[order.symbol]
        if order.side is OrderSide.SELL:
            free_base = self.ledger.free(instrument.base)
            if free_base >= quantity:
                self.ledger.reserve(order.client_order_id, instrument.base, quantity)
            elif not self.allow_short:
                return f"insufficient {instrument.base}: {free_base} free, {quantity} needed"
            return ""
        reference = order.limit_price or self.last_price(order.symbol)
        if reference is None:
            return ""  # a market buy before any price: capped at fill time
        need = quantity * reference * (1 + self.costs.worst_fee)
        if order.type is OrderType.MARKET:
            need *= 1 + self.costs.adverse_move(ZERO)
        free_quote = self.ledger.free(instrument.quote)
        if need > free_quote:
            return f"insufficient {instrument.quote}: {free_quote} free, {need} needed"
        if order.type is OrderType.LIMIT:
            self.ledger.reserve(order.client_order_id, instrument.quote, need)
        return ""

    # -- matching ----------------------------------------------------------------------------

    def _capacity(self, volume: float) -> Decimal | None:
        cap = self.costs.max_participation
        if cap is None or math.isinf(volume):
            return None
        return to_decimal(volume) * cap

    def _match(
        self, order: Order, price: Decimal, tick: Tick, capacity: Decimal | None
    ) -> Fill | None:
        liquidity = self._liquidity(order, price)
        if liquidity is None:
            return None
        instrument = self.instruments[order.symbol]
        quantity = (
            order.remaining_quantity
            if capacity is None
            else min(order.remaining_quantity, capacity)
        )
        quantity = instrument.round_quantity(quantity)
        if quantity <= 0:
            return None
        fill_price = self._fill_price(order, price, quantity, tick.volume, liquidity)
        if order.side is OrderSide.BUY and order.type is OrderType.MARKET:
            quantity = min(quantity, self._affordable(order, fill_price))
            if quantity <= 0:
                self._finish(order.cancel(tick.ts_ms, "insufficient funds"))
                return None
        fee = self.costs.fee(quantity * fill_price, liquidity)
        trade_id = f"{order.client_order_id}-{len(order.fills) + 1}"  # unique across restarts
        fill = Fill(
            order.client_order_id,
            order.symbol,
            order.side,
            quantity,
            fill_price,
            fee,
            tick.ts_ms,
            liquidity,
            trade_id,
        )
        filled = order.fill(fill)
        self._settle(order, fill)
        self._outbox.append(FillEvent.from_fill(fill))
        if filled.status is OrderStatus.FILLED:
            self._finish(filled)
        else:
            self._record(filled)
        return fill

    def _liquidity(self, order: Order, price: Decimal) -> Liquidity | None:
        if order.type is OrderType.MARKET:
            return Liquidity.TAKER
        limit = order.limit_price
        assert limit is not None
        buy = order.side is OrderSide.BUY
        if order.client_order_id in self._unseen:
            marketable = price <= limit if buy else price >= limit
            return Liquidity.TAKER if marketable else None
        traded_through = price < limit if buy else price > limit
        return Liquidity.MAKER if traded_through else None

    def _fill_price(
        self, order: Order, price: Decimal, quantity: Decimal, volume: float, liquidity: Liquidity
    ) -> Decimal:
        if liquidity is Liquidity.MAKER:
            assert order.limit_price is not None
            return order.limit_price
        participation = ZERO if math.isinf(volume) or volume <= 0 else quantity / to_decimal(volume)
        raw = self.costs.taker_price(order.side, price, min(participation, ONE))
        buy = order.side is OrderSide.BUY
        if order.limit_price is not None:
            raw = min(raw, order.limit_price) if buy else max(raw, order.limit_price)
        return self.instruments[order.symbol].round_price(raw, up=buy)

    def _affordable(self, order: Order, price: Decimal) -> Decimal:
        instrument = self.instruments[order.symbol]
        free_quote = self.ledger.free(instrument.quote)
        return instrument.round_quantity(free_quote / (price * (1 + self.costs.taker_fee)))

    # -- bookkeeping -------------------------------------------------------------------------

    def _settle(self, order: Order, fill: Fill) -> None:
        instrument = self.instruments[order.symbol]
        if fill.side is OrderSide.BUY:
            if order.limit_price is not None:
                per_unit = order.limit_price * (1 + self.costs.worst_fee)
                self.ledger.release(order.client_order_id, fill.quantity * per_unit)
            self.ledger.debit(instrument.quote, fill.notional + fill.fee)
            self.ledger.credit(instrument.base, fill.quantity)
        else:
            self.ledger.release(order.client_order_id, fill.quantity)
            self.ledger.debit(instrument.base, fill.quantity)
            self.ledger.credit(instrument.quote, fill.notional - fill.fee)

    def _record(self, order: Order) -> Order:
        previous = self._orders.get(order.client_order_id)
        self._orders[order.client_order_id] = order
        if previous is None or previous.status is not order.status:
            self._outbox.append(OrderEvent.from_order(order))
        return order

    def _finish(self, order: Order) -> Order:
        """Record a terminal order: stop matching it and free what it still reserves."""
        self.ledger.release(order.client_order_id)
        working = self._working.get(order.symbol, [])
        if order.client_order_id in working:
            working.remove(order.client_order_id)
        self._unseen.discard(order.client_order_id)
        return self._record(order)

    def _flush(self) -> None:
        """Publish pending events; every event is offered even if a handler fails."""
        events, self._outbox = self._outbox, []
        if self.bus is None:
            return
        failure: EventDeliveryError | None = None
        for event in events:
            try:
                self.bus.publish(event)
            except EventDeliveryError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
