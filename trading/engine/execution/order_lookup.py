"""Find an exchange order by the client order id the engine gave it.

Guarantees: `find_by_client_id` returns the exchange's record of the order
(a ccxt order structure) or None when the exchange answers that it has no
order with that id. It asks `fetch_order` by client id where the exchange
supports it (Binance: origClientOrderId), else scans the open orders and the
order history from shortly before the order was created. Transport failures
propagate: "could not ask" is never mistaken for "not there", which is what
makes re-sending after a lookup safe.
"""

from __future__ import annotations

from typing import Any

import ccxt

from trading.engine.orders.model import Order

LOOKUP_WINDOW_MS = 60_000  # how far before an order's creation a history scan starts
HISTORY_METHODS = (("fetchOrders", "fetch_orders"), ("fetchClosedOrders", "fetch_closed_orders"))


def find_by_client_id(exchange: Any, symbol: str, order: Order) -> dict[str, Any] | None:
    client_id = order.client_order_id
    if exchange.has.get("fetchOrder"):
        try:
            return dict(exchange.fetch_order(None, symbol, {"clientOrderId": client_id}))
        except ccxt.OrderNotFound:
            return None
        except (ccxt.NotSupported, ccxt.ArgumentsRequired):
            pass  # this exchange cannot fetch by client id: scan its order lists
    candidates = list(exchange.fetch_open_orders(symbol))
    for capability, method in HISTORY_METHODS:
        if exchange.has.get(capability):
            candidates += list(getattr(exchange, method)(symbol, order.created_ms - LOOKUP_WINDOW_MS))
            break
    return next((dict(o) for o in candidates if o.get("clientOrderId") == client_id), None)
