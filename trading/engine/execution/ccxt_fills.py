"""The fills an exchange reports for an order, beyond those already booked.

Guarantees of `TradeFills.new_fills(order, raw)`:
- Nothing when the exchange reports no more filled quantity than the order has.
- Where the exchange lists trades (`fetchMyTrades`), fills are exactly its
  trades (those in the order report first, then the account's trade list for
  that order), each once by trade id. A trade it has not published yet is left
  for a later refresh rather than guessed, so a fill is never booked twice
  under two ids. If the trade list cannot be fetched, the order keeps what is
  known and the next refresh books the rest.
- Where it lists none, one fill covers the reported difference
  (`ccxt_orders.aggregate_fill`).
- A fee paid in a third asset (e.g. BNB) is valued at that asset's last price
  in the quote, fetched with retries.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from trading.engine.clock import Clock
from trading.engine.execution import ccxt_orders
from trading.engine.execution.ccxt_markets import MarketDirectory
from trading.engine.execution.ccxt_orders import decimal_or_zero
from trading.engine.execution.exchange_errors import TemporaryExchangeError
from trading.engine.execution.retry import Retrier
from trading.engine.money import ZERO
from trading.engine.orders.model import Fill, Order

log = logging.getLogger(__name__)


class TradeFills:
    def __init__(self, exchange: Any, markets: MarketDirectory, retrier: Retrier,
                 clock: Clock) -> None:
        self.exchange = exchange
        self.markets = markets
        self.retrier = retrier
        self.clock = clock

    def new_fills(self, order: Order, raw: dict[str, Any]) -> list[Fill]:
        reported = min(decimal_or_zero(raw.get("filled")), order.quantity)
        if reported <= order.filled_quantity:
            return []
        instrument = self.markets.instrument(order.symbol)
        known = {f.trade_id for f in order.fills}
        found = _unseen(ccxt_orders.fills_from_trades(
            order, raw.get("trades") or [], instrument, self.fee_value), known)
        if order.filled_quantity + sum((f.quantity for f in found), ZERO) >= reported:
            return found
        if not self.exchange.has.get("fetchMyTrades"):
            rest = ccxt_orders.aggregate_fill(order, found, raw, instrument, self.fee_value,
                                              self.clock.now_ms())
            return found + ([rest] if rest is not None else [])
        try:
            trades = self._trades_of(order)
        except TemporaryExchangeError as exc:
            log.warning("trades of %s unavailable (%s); booked on a later refresh",
                        order.client_order_id, exc)
            return found
        more = ccxt_orders.fills_from_trades(order, trades, instrument, self.fee_value)
        return list({f.trade_id: f for f in [*found, *_unseen(more, known)]}.values())

    def fee_value(self, asset: str, amount: Decimal, quote: str) -> Decimal | None:
        """A fee paid in a third asset, valued at its last price in `quote` (None if unknown)."""
        market = f"{asset}/{quote}"
        if market not in self.markets.markets():
            return None
        ticker = self.retrier.call(f"{self.exchange.id} fetch_ticker {market}",
                                   lambda: self.exchange.fetch_ticker(market))
        last = decimal_or_zero(ticker.get("last"))
        return amount * last if last > 0 else None

    def _trades_of(self, order: Order) -> list[dict[str, Any]]:
        symbol = self.markets.ccxt_symbol(order.symbol)
        return list(self.retrier.call(
            f"{self.exchange.id} fetch trades of {order.client_order_id}",
            lambda: self.exchange.fetch_my_trades(symbol, None, None,
                                                  {"orderId": order.exchange_order_id}),
        ))


def _unseen(fills: list[Fill], known: set[str]) -> list[Fill]:
    return [f for f in fills if f.trade_id not in known]
