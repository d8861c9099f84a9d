"""Live execution through a ccxt exchange: orders that a retry can never double.

Guarantees (on top of the `Executor` port):
- Every order is sent with its engine client order id (ccxt `clientOrderId`,
  Binance `newClientOrderId`). After any failure that leaves the outcome
  unknown (timeout, disconnect, 5xx, 429, garbled answer) the order is looked
  up by that id before anything is re-sent, and re-sent only once the exchange
  has answered that it does not know it; an exchange "duplicate order" answer
  is resolved the same way. So one engine order is at most one exchange order.
- Only transient failures are retried (`exchange_errors`), with exponential
  backoff and jitter (`retry.RetryPolicy`). A business refusal (insufficient
  funds, invalid order) returns the order REJECTED without retry; refused
  credentials or any other exchange error raise `OperationalExchangeError`;
  an exhausted retry budget raises `TemporaryExchangeError`. In both failure
  cases the order is first stored in the `FailedOrderStore` for recovery.
- Orders are checked against the instrument rules before sending: a quantity
  off the lot grid, a price off the tick grid or a notional below the minimum
  is REJECTED locally (as the paper executor does); `rounded(order)` gives the
  on-grid order to send instead.
- Order placement and cancellation draw from a token bucket on top of ccxt's
  own request spacing (`enableRateLimit` is forced on).
- Credentials of the exchange are registered with the secret redactor, which
  is installed on this module's loggers and ccxt's; exception messages raised
  from here are redacted too.
- Fills are the exchange's own trades (fees valued in the quote), each booked
  once by trade id: at submit (a market order usually returns FILLED), on
  `refresh`/`fetch_order` (throttled to one open-orders request per symbol per
  `sync_interval_ms`), and on `reconcile` after a restart.
- With a bus, each status change is published as an `OrderEvent` and each new
  fill as a `FillEvent`, after the executor's own state is updated.
Not thread-safe: one executor per session, driven by one worker.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

import ccxt

from trading.engine.clock import Clock
from trading.engine.events import EventBus, EventDeliveryError, FillEvent, OrderEvent
from trading.engine.execution import ccxt_fills, ccxt_orders, reconcile
from trading.engine.execution.ccxt_fills import TradeFills
from trading.engine.execution.ccxt_markets import MarketDirectory, rounded_order
from trading.engine.execution.ccxt_orders import acknowledge, advance
from trading.engine.execution.exchange_errors import (
    OperationalExchangeError,
    TemporaryExchangeError,
    describe,
    is_duplicate,
    is_rejection,
    is_transient,
)
from trading.engine.execution.failed_orders import (
    FailedOrder,
    FailedOrderStore,
    InMemoryFailedOrderStore,
)
from trading.engine.execution.order_lookup import find_by_client_id
from trading.engine.execution.protocol import (
    Balance,
    DuplicateClientOrderId,
    UnknownOrder,
    known_submission,
    same_terms,
)
from trading.engine.execution.rate_limit import TokenBucket
from trading.engine.execution.reconcile import (
    ReconcileReport,
    reconcile_orders,
    recover_failed_orders,
)
from trading.engine.execution.redaction import REDACTOR, SecretRedactor
from trading.engine.execution.retry import Retrier, RetryPolicy, retry_after_seconds
from trading.engine.execution.retry import log as retry_log
from trading.engine.instruments import Instrument
from trading.engine.orders.model import Fill, Order
from trading.engine.orders.state import OrderStatus

log = logging.getLogger(__name__)
CREDENTIAL_FIELDS = ("apiKey", "secret", "password", "uid", "privateKey", "token")


class CcxtExecutor:
    def __init__(
        self,
        exchange: Any,
        *,
        clock: Clock,
        instruments: Iterable[Instrument] = (),
        failed_orders: FailedOrderStore | None = None,
        retry: RetryPolicy | None = None,
        order_bucket: TokenBucket | None = None,
        bus: EventBus | None = None,
        sync_interval_ms: int = 5_000,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        redactor: SecretRedactor = REDACTOR,
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        self.bus = bus
        self.failed_orders = failed_orders if failed_orders is not None else InMemoryFailedOrderStore()
        self.redactor = redactor
        redactor.register(*(getattr(exchange, f, None) for f in CREDENTIAL_FIELDS))
        redactor.install(log, ccxt_orders.log, ccxt_fills.log, reconcile.log, retry_log,
                         exchange.logger)
        exchange.enableRateLimit = True
        self.retrier = Retrier(
            retry or RetryPolicy(), sleep=sleep, rng=rng, redactor=redactor,
            retry_after=lambda: retry_after_seconds(exchange),
        )
        self.order_bucket = order_bucket or TokenBucket()  # wall-clock: a real exchange limit
        self.markets = MarketDirectory(exchange, self.retrier, instruments)
        self.trade_fills = TradeFills(exchange, self.markets, self.retrier, clock)
        self._orders: dict[str, Order] = {}
        self._uncertain: set[str] = set()  # PENDING at a checkpoint: maybe sent before a crash
        self.sync_interval_ms = sync_interval_ms
        self._synced_ms: dict[str, int] = {}  # symbol -> time of its last refresh
        self._outbox: list[OrderEvent | FillEvent] = []

    # -- Executor port -----------------------------------------------------------------------

    def submit(self, order: Order) -> Order:
        known = known_submission(self._orders, order)
        if known is not None:
            return known
        problem = self._admission_problem(order)
        if problem:
            return self._finish_call(self._record(order.reject(self._now(order), problem)))
        # an earlier attempt may have reached the exchange: ask before sending
        uncertain = (order.client_order_id in self._uncertain
                     or self.failed_orders.get(order.client_order_id) is not None)
        placed = self._place(order, look_up_first=uncertain)
        self._uncertain.discard(order.client_order_id)
        self.failed_orders.remove(order.client_order_id)
        return self._finish_call(placed)

    def cancel(self, client_order_id: str) -> Order:
        order = self._known(client_order_id)
        if order.status.is_terminal:
            return order
        if order.status is OrderStatus.PENDING:
            return self._finish_call(self._record(order.cancel(self._now(order), "withdrawn")))
        return self._finish_call(self._cancel_at_exchange(order, "cancel"))

    def fetch_order(self, client_order_id: str) -> Order:
        """The order as last synchronised with the exchange.

        A working order's symbol is refreshed first when its last refresh is
        `sync_interval_ms` old (one open-orders request for all its orders, so a
        loop asking after every order on every tick stays within rate limits); if
        the exchange cannot be reached the last known state is returned, and logged.
        """
        order = self._known(client_order_id)
        if order.status.is_working and self._sync_due(order.symbol):
            try:
                self.refresh(order.symbol)
            except TemporaryExchangeError as exc:
                log.warning("order %s not refreshed: %s", client_order_id, exc)
        return self._orders[client_order_id]

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Working orders after synchronising with the exchange (see `refresh`)."""
        self.refresh(symbol)
        return [
            o for o in self._orders.values()
            if o.status.is_working and (symbol is None or o.symbol == symbol)
        ]

    def balances(self) -> dict[str, Balance]:
        raw = self.retrier.call(f"{self.exchange.id} fetch_balance", self.exchange.fetch_balance)
        return ccxt_orders.balances_from(raw)

    # -- beyond the port ---------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        """The exchange's rules for `symbol` (or the instrument given for it)."""
        return self.markets.instrument(symbol)

    def rounded(self, order: Order) -> Order:
        """`order` on the instrument's grid (see `ccxt_markets.rounded_order`)."""
        return rounded_order(order, self.instrument(order.symbol))

    def resume(self, orders: Iterable[Order]) -> None:
        """Remember orders saved at a checkpoint, so submits stay idempotent after a restart.

        A PENDING order may have been sent just before the crash: its next submit
        looks it up by client id first (`reconcile` settles that question up front).
        """
        for order in orders:
            known = self._orders.get(order.client_order_id)
            if known is not None and not same_terms(known, order):
                raise DuplicateClientOrderId(f"order {order.client_order_id} is already known")
            if order.status is OrderStatus.PENDING:
                self._uncertain.add(order.client_order_id)
            else:
                self._orders[order.client_order_id] = order

    def mark_unsent(self, client_order_id: str) -> None:
        """The exchange was asked and does not know this PENDING order: send it directly."""
        self._uncertain.discard(client_order_id)

    def known_orders(self) -> list[Order]:
        return list(self._orders.values())

    def refresh(self, symbol: str | None = None) -> list[Fill]:
        """Bring working orders up to date with the exchange; returns the fills new to us.

        Open orders at the exchange that this executor never placed are adopted
        (and logged); working orders past their expiry are cancelled as EXPIRED.
        """
        working = [o for o in self._orders.values() if o.status.is_working]
        symbols = [symbol] if symbol else sorted(
            {o.symbol for o in working} | set(self.markets.configured_symbols)
        )
        fills: list[Fill] = []
        for name in symbols:
            fills += self._refresh_symbol(name, [o for o in working if o.symbol == name])
            self._synced_ms[name] = self.clock.now_ms()
        for order in [o for o in self._orders.values() if o.status.is_working]:
            if order.is_expired_at(self.clock.now_ms()):
                self._cancel_at_exchange(order, "expire")
        self._flush()
        return fills

    def exchange_open_orders(self, symbol: str) -> list[dict[str, Any]]:
        ccxt_symbol = self.markets.ccxt_symbol(symbol)
        what = f"{self.exchange.id} fetch_open_orders {ccxt_symbol}"
        return list(self.retrier.call(what, lambda: self.exchange.fetch_open_orders(ccxt_symbol)))

    def look_up(self, order: Order) -> dict[str, Any] | None:
        """The exchange's record of `order` by client id (None if unknown), with retries."""
        what = f"{self.exchange.id} look up order {order.client_order_id}"
        return self.retrier.call(what, lambda: self._look_up_once(order))

    def apply_report(self, order: Order, raw: dict[str, Any]) -> tuple[Order, list[Fill]]:
        """Move `order` to the exchange's report `raw`, booking its new fills."""
        order = self._record(acknowledge(order, raw, self.clock.now_ms()))  # before anything fails
        if order.status is OrderStatus.REJECTED:
            return order, []
        fills = self.trade_fills.new_fills(order, raw)
        updated, booked = advance(order, raw, fills, self.clock.now_ms())
        return self._record(updated, booked), booked

    def adopt(self, raw: dict[str, Any]) -> tuple[Order, list[Fill]]:
        """Track an exchange order this executor did not place (found open at the exchange)."""
        symbol = self.markets.engine_symbol(str(raw.get("symbol")))
        return self.apply_report(ccxt_orders.adopt(raw, symbol, self.clock.now_ms()), raw)

    def recover_failed(self, *, resend: bool = True) -> list[Order]:
        """Resolve stored failures: adopt those the exchange has, re-send the others
        (when `resend`). Returns the orders resolved; failures that fail again stay stored."""
        return recover_failed_orders(self, resend=resend)

    def reconcile(self, saved: Iterable[Order] = (), symbols: Iterable[str] = ()) -> ReconcileReport:
        """On start: settle the saved orders with the exchange (see `reconcile`)."""
        return reconcile_orders(self, saved, symbols)

    def flush_events(self) -> None:
        """Publish events queued by `apply_report`/`adopt` calls made from outside."""
        self._flush()

    # -- placing -----------------------------------------------------------------------------

    def _place(self, order: Order, *, look_up_first: bool) -> Order:
        what = f"{self.exchange.id} create order {order.client_order_id}"
        failures = duplicates = 0
        must_look_up = look_up_first
        while True:
            try:
                raw = self._look_up_once(order) if must_look_up else None
                if raw is not None:
                    log.info("order %s found at the exchange; not re-sent", order.client_order_id)
                    break
                must_look_up = False
                raw = self._send(order)
                break
            except Exception as exc:
                if is_transient(exc):
                    failures += 1
                    must_look_up = True  # did it go through? ask before sending again
                    self._backoff_or_fail(what, failures, exc, order)
                elif is_duplicate(exc) and duplicates == 0:
                    duplicates += 1
                    must_look_up = True  # the exchange holds this id: adopt, never re-send
                elif is_rejection(exc):
                    return self._record(order.reject(self._now(order), self._reason(exc)))
                else:
                    raise self._operational(order, failures, exc) from exc
        return self.apply_report(order, raw)[0]

    def _send(self, order: Order) -> dict[str, Any]:
        self.order_bucket.acquire()
        symbol = self.markets.ccxt_symbol(order.symbol)
        price = None if order.limit_price is None else float(order.limit_price)
        params: dict[str, Any] = {"clientOrderId": order.client_order_id}
        if order.reduce_only:
            params["reduceOnly"] = True
        log.info("sending %s %s %s %s @ %s as %s", order.side.value, order.quantity, symbol,
                 order.type.value, price or "market", order.client_order_id)
        return dict(self.exchange.create_order(
            symbol, order.type.value.lower(), order.side.value.lower(),
            float(order.quantity), price, params,
        ))

    def _backoff_or_fail(self, what: str, failures: int, exc: Exception, order: Order) -> None:
        try:
            self.retrier.backoff(what, failures, exc)
        except TemporaryExchangeError as final:
            self._store_failure(order, str(final), "temporary", failures)
            log.error("order %s stored for recovery: %s", order.client_order_id, final)
            raise

    def _operational(self, order: Order, failures: int, exc: Exception) -> OperationalExchangeError:
        reason = self._reason(exc)
        self._store_failure(order, reason, "operational", failures + 1)
        log.error("order %s failed and was stored for recovery: %s", order.client_order_id, reason)
        return OperationalExchangeError(f"order {order.client_order_id}: {reason}")

    def _store_failure(self, order: Order, reason: str, kind: str, attempts: int) -> None:
        self.failed_orders.add(FailedOrder(order, reason, kind, attempts, self.clock.now_ms()))

    def _look_up_once(self, order: Order) -> dict[str, Any] | None:
        return find_by_client_id(self.exchange, self.markets.ccxt_symbol(order.symbol), order)

    # -- cancelling and refreshing -----------------------------------------------------------

    def _cancel_at_exchange(self, order: Order, purpose: str) -> Order:
        symbol = self.markets.ccxt_symbol(order.symbol)

        def cancel_once() -> dict[str, Any] | None:
            self.order_bucket.acquire()
            try:
                return dict(self.exchange.cancel_order(order.exchange_order_id, symbol,
                                                       {"clientOrderId": order.client_order_id}))
            except ccxt.OrderNotFound:
                return None  # already finished (or never there): its record tells which

        try:
            raw = self.retrier.call(f"{self.exchange.id} {purpose} {order.client_order_id}",
                                    cancel_once) or self.look_up(order)
        except TemporaryExchangeError:
            raise
        except Exception as exc:
            raise OperationalExchangeError(f"{purpose} {order.client_order_id}: "
                                           f"{self._reason(exc)}") from exc
        if raw is None:
            raise UnknownOrder(f"the exchange does not know order {order.client_order_id}")
        if purpose == "expire" and str(raw.get("status")) == "canceled":
            raw = {**raw, "status": "expired"}
        return self.apply_report(order, raw)[0]

    def _refresh_symbol(self, symbol: str, working: list[Order]) -> list[Fill]:
        reports = {str(r.get("clientOrderId")): r for r in self.exchange_open_orders(symbol)}
        fills: list[Fill] = []
        for order in working:
            raw = reports.pop(order.client_order_id, None) or self.look_up(order)
            if raw is None:
                log.warning("working order %s is unknown to the exchange", order.client_order_id)
                continue
            fills += self.apply_report(order, raw)[1]
        for raw in reports.values():
            adopted, booked = self.adopt(raw)
            log.warning("adopted open order %s found at the exchange", adopted.client_order_id)
            fills += booked
        return fills

    # -- bookkeeping -------------------------------------------------------------------------

    def _admission_problem(self, order: Order) -> str:
        instrument = self.instrument(order.symbol)
        if not instrument.is_lot_multiple(order.quantity):
            return f"quantity {order.quantity} is not a multiple of the lot {instrument.lot_size}"
        if order.limit_price is not None and not instrument.is_tick_multiple(order.limit_price):
            return f"price {order.limit_price} is not a multiple of the tick {instrument.tick_size}"
        price = order.limit_price
        if price is not None and order.quantity * price < instrument.min_notional:
            return f"notional below the minimum {instrument.min_notional}"
        if order.is_expired_at(self.clock.now_ms()):
            return "already expired"
        return ""

    def _sync_due(self, symbol: str) -> bool:
        last = self._synced_ms.get(symbol)
        return last is None or self.clock.now_ms() - last >= self.sync_interval_ms

    def _known(self, client_order_id: str) -> Order:
        try:
            return self._orders[client_order_id]
        except KeyError:
            raise UnknownOrder(f"no order with client id {client_order_id}") from None

    def _now(self, order: Order) -> int:
        return max(self.clock.now_ms(), order.updated_ms)

    def _reason(self, exc: BaseException) -> str:
        self.redactor.scrub(exc)
        return self.redactor.redact(describe(exc))

    def _record(self, order: Order, fills: Iterable[Fill] = ()) -> Order:
        """Store `order`; queue an event per new transition (acknowledgement, fills, the rest)."""
        previous = self._orders.get(order.client_order_id)
        self._orders[order.client_order_id] = order
        seen = len(previous.history) if previous is not None else 1  # creation is not announced
        steps = order.history[seen:]
        acks = [t for t in steps if t.target is OrderStatus.SUBMITTED]
        self._outbox.extend(ccxt_orders.transition_event(order, t) for t in acks)
        self._outbox.extend(FillEvent.from_fill(f) for f in fills)
        self._outbox.extend(ccxt_orders.transition_event(order, t) for t in steps if t not in acks)
        return order

    def _finish_call(self, order: Order) -> Order:
        self._flush()
        return order

    def _flush(self) -> None:
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
