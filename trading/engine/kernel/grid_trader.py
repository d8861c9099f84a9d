"""The grid at work inside the kernel: builds levels, places and cancels orders, books fills.

Guarantees (the rules themselves are documented in `grid_policy`):
- The kernel calls `on_candle` after its decision at every closed candle of a
  grid symbol, `on_price` at every accepted price, and the desk hands over
  every fill and every finished order of a grid symbol (`on_fill`,
  `on_finished`). Levels are (re)built, retuned and activated only at candle
  closes, on closed bars; a filled order's counter-order is placed at once.
- Every order goes through the desk (risk check for buys, deterministic client
  order id, tracking and booking) and is registered in the grid's book
  before it is submitted, so a venue answer that arrives while submitting
  (a rejection, an immediate fill) finds it.
- Nothing here reads a clock other than the kernel's, and iteration follows
  insertion order only: the same events give the same orders and events.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from trading.engine.clock import Clock
from trading.engine.events import EngineEvent
from trading.engine.feeds import Candle
from trading.engine.kernel.config import KernelConfig
from trading.engine.kernel.desk import OrderMeta, TradingDesk
from trading.engine.kernel.grid_book import GridBook, GridLot, GridOrderRef, Sale
from trading.engine.kernel.grid_policy import GridEvent, GridPolicy
from trading.engine.kernel.state import SymbolState
from trading.engine.money import ONE, ZERO, to_decimal
from trading.engine.orchestrator import Vote
from trading.engine.orders.grid import Grid, GridLevel, LevelState, self_tuned_spacing
from trading.engine.orders.ids import client_order_id
from trading.engine.orders.model import Fill, Order, OrderSide
from trading.engine.orders.state import OrderStatus

DEFAULT_SPACING = 0.015  # for a lot bought without a grid (never the case in normal running)


class GridTrader:
    def __init__(
        self,
        policy: GridPolicy,
        *,
        config: KernelConfig,
        desk: TradingDesk,
        symbols: dict[str, SymbolState],
        clock: Clock,
        new_risk_block: Callable[[], str],
        halted: Callable[[], bool],
        equity: Callable[[], Decimal],
        publish: Callable[[EngineEvent], None],
    ) -> None:
        self.policy = policy
        self.config = config
        self.desk = desk
        self.symbols = symbols
        self.clock = clock
        self.new_risk_block = new_risk_block
        self.halted = halted
        self.equity = equity
        self.publish = publish
        self.books = {
            s: GridBook(s) for s in config.symbols if policy.owns(s, config.symbols)
        }
        self.fee = to_decimal(config.fee_rate)
        self.ttl_ms = policy.order_ttl_bars * config.bar_ms
        for symbol in self.books:
            desk.owners[symbol] = self

    def owns(self, symbol: str) -> bool:
        return symbol in self.books

    # -- kernel hooks ------------------------------------------------------------------------

    def on_candle(self, sym: SymbolState, candle: Candle, vote: Vote) -> None:
        book = self.books.get(sym.symbol)
        if book is None:
            return
        book.veto = self.policy.veto(vote)
        for cid in [c for c, ref in book.orders.items() if ref.kind == "buy"]:
            tracked = self.desk.tracked.get(cid)
            if tracked is not None and tracked.order.status is OrderStatus.PARTIAL:
                self.desk.cancel([cid])  # the filled part becomes a lot with its sell
        self._rebuild_if_due(book, sym, candle.close)
        if book.grid is not None and not (book.stopped or book.winding):
            self._activate(book, sym.mark)
        self._place_missing(book, sym)
        self._publish(book)

    def on_price(self, sym: SymbolState, price: float, ts_ms: int) -> None:
        book = self.books.get(sym.symbol)
        if book is None or not book.lots:
            return
        for lot in book.lots:
            lot.observe(price, ts_ms)
        stop = self.policy.stop_below_fraction
        if stop is None or book.stopped or book.winding or self.halted():
            return
        held = [lot.entry for lot in book.lots if lot.quantity > 0]
        if held and price < min(held) * (1.0 - stop):
            self._stop(book, sym)

    def wind_down(self, reason: str) -> None:
        """Open nothing more: cancel every grid order and sell the inventory at market."""
        for book in self.books.values():
            book.winding = True
            self._cancel(book, lambda ref: True)
            self._flatten(book, self.symbols[book.symbol], reason)
            book.reasons.append("wound_down")
            self._publish(book)

    def reserved_cash(self) -> Decimal:
        """The grids' budgets not yet spent on inventory (withheld from the agents' entries)."""
        cap = to_decimal(self.policy.max_inventory)
        return sum(
            (max(ZERO, cap * b.budget - b.inventory_cost) for b in self.books.values()), ZERO
        )

    # -- desk hooks --------------------------------------------------------------------------

    def on_fill(self, fill: Fill, meta: OrderMeta) -> None:
        book = self.books[fill.symbol]
        ref = book.orders.get(fill.client_order_id)
        if fill.side is OrderSide.SELL:
            reason = meta.reason if ref is None else (ref.reason or "grid")
            return book.book_sell(fill, ref, reason)
        lot = book.lot_of_buy(fill.client_order_id)
        if lot is None:
            generation = book.generation if ref is None else ref.generation
            level = 0 if ref is None or ref.level is None else ref.level
            target = self._target(book, generation, level, fill.price)
            lot = book.new_lot(generation, level, target, fill.ts_ms)
            lot.buy_order = fill.client_order_id
        lot.add(fill)

    def on_finished(self, order: Order, meta: OrderMeta) -> None:
        book = self.books[order.symbol]
        cid = order.client_order_id
        ref = book.orders.pop(cid, None)
        sym = self.symbols[order.symbol]
        lot = book.lot_of_buy(cid)
        if lot is not None:
            lot.buy_order = None
            if lot.quantity > 0:
                self._bought(book, sym, lot, ref)
            else:
                book.lots.remove(lot)
        sale = book.sales.pop(cid, None)
        if sale is not None and sale.quantity > 0:
            self._record_sale(book, sale)
        if ref is not None and ref.kind == "sell":
            own = None if ref.lot_id is None else book.lot(ref.lot_id)
            if own is not None:
                own.sell_order = None  # the rest gets a new sell at the next close
            elif order.status is OrderStatus.FILLED:
                self._sold(book, sym, ref)

    # -- building ----------------------------------------------------------------------------

    def _rebuild_if_due(self, book: GridBook, sym: SymbolState, close: float) -> None:
        if book.winding:
            return
        if book.stopped:
            book.rest_bars -= 1
            if book.rest_bars > 0 or book.lots:
                return
            book.stopped = False
            return self._build(book, sym, close, "resumed")
        book.bars_since_build += 1
        grid = book.grid
        if grid is None:
            return self._build(book, sym, close, "built")
        if grid.needs_recenter(close):
            return self._build(book, sym, close, "recentered")
        if book.bars_since_build >= self.policy.retune_every_bars:
            book.bars_since_build = 0
            if grid.should_retune(self._spacing(sym), self.policy.retune_tolerance):
                self._build(book, sym, close, "retuned")

    def _spacing(self, sym: SymbolState) -> float:
        bars = sym.window.bars()
        n = self.policy.lookback_bars
        return self_tuned_spacing(bars.high[-n:], bars.low[-n:], window=self.policy.swing_window)

    def _build(self, book: GridBook, sym: SymbolState, price: float, reason: str) -> None:
        self._cancel(book, lambda ref: ref.kind == "buy")
        policy, instrument = self.policy, sym.instrument
        spacing = self._spacing(sym)
        center = to_decimal(price)
        book.budget = to_decimal(policy.capital_fraction) * max(ZERO, self.equity())
        book.level_quantity = instrument.round_quantity(
            book.budget / policy.levels_per_side / center
        )
        book.grid = Grid.build(
            center, spacing, policy.levels_per_side,
            activation_window=policy.activation_window(spacing),
            tick_size=instrument.tick_size,
        )
        book.generation += 1
        book.bars_since_build = 0
        book.reasons.append(reason)

    def _activate(self, book: GridBook, price: float) -> None:
        assert book.grid is not None
        update = book.grid.activate_near(price, buys_only=True)
        book.grid = update.grid
        self._cancel_buys_at(book, update.deactivated)

    def _target(self, book: GridBook, generation: int, level: int, price: Decimal) -> Decimal:
        """Where a lot bought at `level` sells: one level up, or one spacing up off the grid."""
        grid = book.grid
        if grid is not None and generation == book.generation:
            above = [lvl for lvl in grid.levels if lvl.index == level + 1]
            if above:
                return above[0].price
        spacing = grid.spacing if grid is not None else DEFAULT_SPACING
        instrument = self.symbols[book.symbol].instrument
        return instrument.round_price(price * (1 + to_decimal(spacing)), up=True)

    # -- fills -------------------------------------------------------------------------------

    def _bought(
        self, book: GridBook, sym: SymbolState, lot: GridLot, ref: GridOrderRef | None
    ) -> None:
        current = ref is not None and ref.kind == "buy" and ref.generation == book.generation
        if current and book.grid is not None and ref is not None and ref.level is not None:
            update = book.grid.on_fill(ref.level, OrderSide.BUY)
            book.grid = update.grid
            self._cancel_buys_at(book, update.deactivated)
        self._place_sell(book, sym, lot)

    def _sold(self, book: GridBook, sym: SymbolState, ref: GridOrderRef) -> None:
        grid = book.grid
        if grid is None or ref.generation != book.generation or ref.level is None:
            return
        if book.stopped or book.winding or ref.level not in {lvl.index for lvl in grid.levels}:
            return
        update = grid.on_fill(ref.level, OrderSide.SELL)
        book.grid = update.grid
        self._cancel_buys_at(book, update.deactivated)
        self._place_buys(book, sym)

    def _record_sale(self, book: GridBook, sale: Sale) -> None:
        closed = sale.closed_trade(book.symbol)
        self.desk.guard.record_closed_trade(closed)
        context = {
            "source": "grid",
            "symbol": book.symbol,
            "generation": book.generation,
            "spacing": None if book.grid is None else book.grid.spacing,
            "levels": list(sale.levels),
            "reasoning": (
                f"grid inventory bought at level(s) {', '.join(map(str, sale.levels))}, "
                f"sold ({sale.reason})"
            ),
        }
        self.publish(sale.record(closed, context, self.config.outcome_bands))

    # -- placing -----------------------------------------------------------------------------

    def _place_missing(self, book: GridBook, sym: SymbolState) -> None:
        if self.halted():
            return
        if book.stopped or book.winding:
            if book.lots:
                self._flatten(book, sym, "end" if book.winding else "grid_stop")
            return
        for lot in list(book.lots):
            self._place_sell(book, sym, lot)
        self._place_buys(book, sym)

    def _buy_block(self, book: GridBook) -> str:
        if book.winding:
            return "the session is winding down: no new grid buys"
        if book.stopped:
            return f"the grid stopped out: it rests {book.rest_bars} more bar(s)"
        return self.new_risk_block() or book.veto or ("" if book.grid else "no grid yet")

    def _place_buys(self, book: GridBook, sym: SymbolState) -> None:
        block = self._buy_block(book)
        if block or self.halted():
            self._cancel(book, lambda ref: ref.kind == "buy")
            book.blocked = block
            return
        book.blocked = ""
        assert book.grid is not None
        armed = [
            lvl for lvl in book.grid.levels
            if lvl.state is LevelState.ACTIVE and lvl.side is OrderSide.BUY
        ]
        working = {ref.level for ref in book.orders.values() if ref.kind == "buy"}
        for lvl in sorted(armed, key=lambda lvl: lvl.price, reverse=True):  # nearest first
            if lvl.index not in working:
                self._place_buy(book, sym, lvl)
        if self.new_risk_block():  # a buy tripped a breaker: the others must not fill either
            self._cancel(book, lambda ref: ref.kind == "buy")

    def _place_buy(self, book: GridBook, sym: SymbolState, level: GridLevel) -> None:
        quantity, price, instrument = book.level_quantity, level.price, sym.instrument
        if quantity <= 0 or quantity * price < instrument.min_notional:
            book.blocked = f"a level of {quantity} at {price} is under the exchange minimum"
            return
        working = self._working_buy_value(book)
        cap = to_decimal(self.policy.max_inventory) * book.budget
        if book.inventory_cost + working + quantity * price > cap:
            book.blocked = "the grid's inventory cap is reached"
            return
        spare = self.desk.portfolio.cash - sum(
            (self._working_buy_value(b) for b in self.books.values()), ZERO
        ) * (ONE + self.fee)
        if quantity * price * (ONE + self.fee) > spare:
            book.blocked = "not enough free cash for another grid buy"
            return
        problem = self.desk.risk_problem(sym.symbol, OrderSide.BUY, quantity, sym.mark)
        if problem:
            book.blocked = f"the risk check refused a grid buy: {problem}"
            return
        ref = GridOrderRef("buy", book.generation, level.index)
        self._submit(book, sym, ref, OrderSide.BUY, quantity, price, f"grid buy L{level.index}")

    def _place_sell(self, book: GridBook, sym: SymbolState, lot: GridLot) -> None:
        if lot.sell_order is not None or lot.buy_order is not None or lot.quantity <= 0:
            return
        if book.stopped or book.winding or self.halted():
            return
        if lot.quantity * lot.target < sym.instrument.min_notional:
            return  # dust: sold with the rest of the inventory by a stop or the end
        if self.desk.risk_problem(sym.symbol, OrderSide.SELL, lot.quantity, sym.mark):
            return
        ref = GridOrderRef("sell", lot.generation, lot.level + 1, lot.lot_id)
        reason = f"grid sell L{lot.level + 1} (lot {lot.lot_id})"
        self._submit(book, sym, ref, OrderSide.SELL, lot.quantity, lot.target, reason, lot)

    def _flatten(self, book: GridBook, sym: SymbolState, reason: str) -> None:
        if self.halted() or self._working(book, lambda ref: ref.kind == "flatten"):
            return
        held = self.desk.portfolio.position(sym.symbol).quantity
        if held <= 0:
            return
        ref = GridOrderRef("flatten", book.generation, None, None, reason)
        self._submit(book, sym, ref, OrderSide.SELL, held, None, reason)

    def _stop(self, book: GridBook, sym: SymbolState) -> None:
        book.stopped, book.rest_bars = True, self.policy.retune_every_bars
        self._cancel(book, lambda ref: True)
        self._flatten(book, sym, "grid_stop")
        book.reasons.append("stopped")
        self._publish(book)

    def _submit(
        self, book: GridBook, sym: SymbolState, ref: GridOrderRef, side: OrderSide,
        quantity: Decimal, price: Decimal | None, reason: str, lot: GridLot | None = None,
    ) -> None:
        label = str(ref.level) if ref.kind != "flatten" else ref.reason
        key, sequence = book.key(ref.generation, label, side)
        book.placements[key] = sequence + 1
        config, ts = self.config, self.clock.now_ms()
        order = Order.create(
            client_order_id=client_order_id(
                config.session_id, sym.symbol, "grid", ref.generation, label, side.value,
                sequence, prefix=config.id_prefix,
            ),
            symbol=sym.symbol,
            side=side,
            quantity=quantity,
            created_ms=ts,
            limit_price=price,
            expires_ms=None if price is None else ts + self.ttl_ms,
            reduce_only=side is OrderSide.SELL,
            tag="grid",
        )
        book.orders[order.client_order_id] = ref
        if lot is not None:
            lot.sell_order = order.client_order_id
        reference = float(price) if price is not None else sym.mark
        self.desk.submit(order, OrderMeta("grid", reason, reference))

    # -- working orders ----------------------------------------------------------------------

    def _working(self, book: GridBook, wanted: Callable[[GridOrderRef], bool]) -> list[str]:
        return [cid for cid, ref in book.orders.items() if wanted(ref)]

    def _cancel(self, book: GridBook, wanted: Callable[[GridOrderRef], bool]) -> None:
        self.desk.cancel(self._working(book, wanted))

    def _cancel_buys_at(self, book: GridBook, levels: tuple[GridLevel, ...]) -> None:
        indices = {lvl.index for lvl in levels}
        if indices:
            self._cancel(book, lambda ref: ref.kind == "buy" and ref.level in indices)

    def _working_buy_value(self, book: GridBook) -> Decimal:
        total = ZERO
        for cid in self._working(book, lambda ref: ref.kind == "buy"):
            tracked = self.desk.tracked.get(cid)
            if tracked is not None and tracked.order.limit_price is not None:
                total += tracked.order.remaining_quantity * tracked.order.limit_price
        return total

    # -- events and checkpoints --------------------------------------------------------------

    def _publish(self, book: GridBook) -> None:
        """Publish a `GridEvent` when the grid changed since the last one (or something happened)."""
        grid = book.grid
        if grid is None:
            return
        orders = [t.order for cid in book.orders if (t := self.desk.tracked.get(cid)) is not None]
        blocked = self._buy_block(book) or book.blocked
        # what can change, as values whose equality is that of their text (a generation's
        # levels keep their prices, an order its quantity), so a restored grid compares the same
        view = (
            book.generation,
            grid.levels,
            tuple((o.client_order_id, o.filled_quantity) for o in orders),
            str(book.inventory),
            blocked,
        )
        if not book.reasons and view == book.last_view:
            return
        text, book.last_view = repr(view), view
        if not book.reasons and text == book.published:
            return
        reason = ",".join(book.reasons) or "update"
        book.reasons.clear()
        book.published = text
        self.publish(
            GridEvent(
                ts_ms=self.clock.now_ms(), symbol=book.symbol, generation=book.generation,
                reason=reason, center=grid.center, spacing=grid.spacing,
                levels=tuple(
                    (lvl.index, lvl.price, lvl.side.value, lvl.state.value) for lvl in grid.levels
                ),
                active=tuple(lvl.index for lvl in grid.levels if lvl.state is LevelState.ACTIVE),
                working=tuple(
                    (o.client_order_id, o.side.value, o.limit_price, o.remaining_quantity)
                    for o in orders
                ),
                inventory=book.inventory, budget=book.budget, buys_blocked=blocked,
            )
        )

    def snapshot(self) -> dict[str, Any]:
        return {symbol: book.to_json() for symbol, book in self.books.items()}

    def restore(self, state: dict[str, Any]) -> None:
        for symbol, data in state.items():
            self.books[symbol] = GridBook.from_json(symbol, data)
