"""A local HTTP server that answers like Binance spot's private REST API, for ccxt.

`FakeBinanceSpot` extends the market-data fake (`tests.fake_exchange.FakeBinance`:
exchangeInfo and klines, with their faults) with what ccxt's binance calls to
trade: POST/GET/DELETE /api/v3/order, GET /api/v3/openOrders, /allOrders,
/myTrades, /account (balances), /ticker/24hr, /time, and the currency list
and margin-pair lists ccxt asks for when it holds keys (empty). Signatures are accepted unchecked; private
endpoints require the X-MBX-APIKEY header.

Behaviour, as Binance: a MARKET order (and a marketable LIMIT) fills at once at
`prices[symbol]`, the commission (`fee_rate`) paid in the quote asset (or in
`commission_asset`, e.g. BNB, at its price against the quote); a
resting LIMIT order locks its funds until `fill_resting` trades it or it is
cancelled; a client order id already used by an *open* order is refused with
-2010 "Duplicate order sent." (ids of finished orders may be reused, which is
exactly why the client must look an order up before re-sending it); lot, tick
and notional filters answer -1013; missing funds -2010 "Account has
insufficient balance for requested action.".

Faults are queued per endpoint ("POST order", "GET order", "GET ticker/24hr",
...) and consumed one per request: `OrderFault.rate_limit()` (429 +
Retry-After), `server_error(status)`, `hang(seconds)` (answers late, then
processes), `disconnect()` (drops the connection before processing),
`accept_then_timeout(seconds)` (processes, then answers only after the client
has given up: "did my order go through?"), `accept_then_disconnect()`
(processes, then breaks the answer off mid-body), `duplicate()`,
`insufficient_balance()`, and `reject_key()` (401 that echoes the API key, as
some exchanges do). `orders` keeps every order the exchange accepted.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_exchange import PERP_PREFIX, SPOT_PREFIX, FakeBinance, Market, _Handler

EIGHT = Decimal("0.00000001")


@dataclass(frozen=True)
class OrderFault:
    kind: str
    status: int = 200
    seconds: float = 0.0
    retry_after: int = 1

    @classmethod
    def ok(cls) -> OrderFault:
        return cls("ok")

    @classmethod
    def rate_limit(cls, retry_after: int = 0) -> OrderFault:
        return cls("rate_limit", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 502) -> OrderFault:
        return cls("server_error", status=status)

    @classmethod
    def hang(cls, seconds: float) -> OrderFault:
        return cls("hang", seconds=seconds)

    @classmethod
    def disconnect(cls) -> OrderFault:
        return cls("disconnect")

    @classmethod
    def accept_then_timeout(cls, seconds: float) -> OrderFault:
        return cls("accept_then_timeout", seconds=seconds)

    @classmethod
    def accept_then_disconnect(cls) -> OrderFault:
        return cls("accept_then_disconnect")

    @classmethod
    def duplicate(cls) -> OrderFault:
        return cls("duplicate")

    @classmethod
    def insufficient_balance(cls) -> OrderFault:
        return cls("insufficient_balance")

    @classmethod
    def reject_key(cls) -> OrderFault:
        return cls("reject_key", status=401)


class ExchangeRefusal(Exception):
    def __init__(self, status: int, code: int, msg: str):
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


DUPLICATE = (400, -2010, "Duplicate order sent.")
INSUFFICIENT = (400, -2010, "Account has insufficient balance for requested action.")


def _fmt(value: Decimal) -> str:
    return str(value.quantize(EIGHT))


@dataclass
class FakeBinanceSpot(FakeBinance):
    """Start with `with FakeBinanceSpot(now_ms=..., balances={...}, prices={...}) as fake:`."""

    balances: dict[str, Any] = field(default_factory=dict)
    prices: dict[str, Any] = field(default_factory=dict)
    fee_rate: Decimal = Decimal("0.001")
    commission_asset: str | None = None  # e.g. "BNB": fees paid in it at its USDT price
    orders: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    api_keys_seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._wallet = {a: [Decimal(str(v)), Decimal(0)] for a, v in self.balances.items()}
        self.prices = {k: Decimal(str(v)) for k, v in self.prices.items()}
        self._order_faults: dict[str, deque[OrderFault]] = {}
        self._ids = iter(range(1000, 10**9))

    def __enter__(self) -> FakeBinanceSpot:
        handler = type("Handler", (_OrderHandler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        serve = lambda: self._server.serve_forever(poll_interval=0.02)  # noqa: E731 - quick shutdown
        threading.Thread(target=serve, daemon=True).start()
        return self

    # ---- test controls -------------------------------------------------------------------
    def inject_order_fault(self, endpoint: str, *faults: OrderFault) -> None:
        with self._lock:
            self._order_faults.setdefault(endpoint, deque()).extend(faults)

    def next_order_fault(self, endpoint: str) -> OrderFault | None:
        with self._lock:
            queue = self._order_faults.get(endpoint)
            return queue.popleft() if queue else None

    def wallet(self, asset: str) -> tuple[Decimal, Decimal]:
        with self._lock:
            free, locked = self._wallet.get(asset, [Decimal(0), Decimal(0)])
            return free, locked

    def orders_with_client_id(self, client_order_id: str) -> list[dict[str, Any]]:
        return [o for o in self.orders if o["clientOrderId"] == client_order_id]

    def fill_resting(self, client_order_id: str, quantity: Any = None) -> None:
        """The market trades through a resting LIMIT order (a maker fill at its price)."""
        with self._lock:
            order = self._open_by_client_id(client_order_id)
            if order is None:
                raise KeyError(f"no open order {client_order_id}")
            left = Decimal(order["origQty"]) - Decimal(order["executedQty"])
            qty = left if quantity is None else Decimal(str(quantity))
            self._execute(order, qty, Decimal(order["price"]), maker=True)

    def requests_to(self, path_end: str, method: str | None = None) -> list[Any]:
        return [r for r in self.requests if r.path.endswith(path_end)
                and (method is None or r.query.get("_method") == method)]

    # ---- trading -------------------------------------------------------------------------
    def _market(self, market_id: str) -> Market:
        for market in self.markets:
            if market.market_id == market_id:
                return market
        raise ExchangeRefusal(400, -1121, "Invalid symbol.")

    def place(self, p: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            market = self._market(p.get("symbol", ""))
            client_id = p.get("newClientOrderId") or f"fake-{next(self._ids)}"
            if self._open_by_client_id(client_id) is not None:
                raise ExchangeRefusal(*DUPLICATE)
            side, kind = p["side"], p["type"]
            qty = Decimal(p["quantity"])
            limit = Decimal(p["price"]) if kind == "LIMIT" else None
            self._check_filters(market, qty, limit)
            last = self.prices[market.market_id]
            marketable = limit is None or (limit >= last if side == "BUY" else limit <= last)
            self._check_funds(market, side, qty, last if marketable else limit)
            order = self._new_order(market, p, client_id, qty, limit)
            if marketable:
                self._execute(order, qty, last, maker=False)
            else:
                self._lock_funds(order, market, qty, limit)
            fills = [{"price": t["price"], "qty": t["qty"], "commission": t["commission"],
                      "commissionAsset": t["commissionAsset"], "tradeId": t["id"]}
                     for t in self.trades if t["orderId"] == order["orderId"]]
            return {**self._public(order), "transactTime": self.now_ms, "fills": fills}

    def _check_filters(self, market: Market, qty: Decimal, limit: Decimal | None) -> None:
        if qty <= 0 or qty % Decimal(market.lot_size):
            raise ExchangeRefusal(400, -1013, "Filter failure: LOT_SIZE")
        if limit is not None and limit % Decimal(market.tick_size):
            raise ExchangeRefusal(400, -1013, "Filter failure: PRICE_FILTER")
        price = limit if limit is not None else self.prices[market.market_id]
        if qty * price < Decimal(market.min_notional):
            raise ExchangeRefusal(400, -1013, "Filter failure: NOTIONAL")

    def _check_funds(self, market: Market, side: str, qty: Decimal, price: Decimal) -> None:
        if side == "BUY":
            need, asset = qty * price * (1 + self.fee_rate), market.quote
        else:
            need, asset = qty, market.base
        if self._wallet.get(asset, [Decimal(0)])[0] < need:
            raise ExchangeRefusal(*INSUFFICIENT)

    def _new_order(self, market: Market, p: dict[str, str], client_id: str, qty: Decimal,
                   limit: Decimal | None) -> dict[str, Any]:
        order = {
            "symbol": market.market_id, "orderId": next(self._ids), "orderListId": -1,
            "clientOrderId": client_id, "price": _fmt(limit or Decimal(0)),
            "origQty": _fmt(qty), "executedQty": _fmt(Decimal(0)),
            "cummulativeQuoteQty": _fmt(Decimal(0)), "status": "NEW", "timeInForce": "GTC",
            "type": p["type"], "side": p["side"], "stopPrice": _fmt(Decimal(0)),
            "icebergQty": _fmt(Decimal(0)), "time": self.now_ms, "updateTime": self.now_ms,
            "isWorking": True, "workingTime": self.now_ms,
            "origQuoteOrderQty": _fmt(Decimal(0)), "selfTradePreventionMode": "NONE",
            "_lock": None,
        }
        self.orders.append(order)
        return order

    def _lock_funds(self, order: dict[str, Any], market: Market, qty: Decimal, limit: Decimal) -> None:
        if order["side"] == "BUY":
            asset, amount = market.quote, qty * limit * (1 + self.fee_rate)
        else:
            asset, amount = market.base, qty
        wallet = self._wallet.setdefault(asset, [Decimal(0), Decimal(0)])
        wallet[0] -= amount
        wallet[1] += amount
        order["_lock"] = [asset, amount]

    def _release(self, order: dict[str, Any], amount: Decimal | None = None) -> None:
        if not order["_lock"]:
            return
        asset, held = order["_lock"]
        take = held if amount is None else min(amount, held)
        self._wallet[asset][0] += take
        self._wallet[asset][1] -= take
        order["_lock"] = [asset, held - take]

    def _execute(self, order: dict[str, Any], qty: Decimal, price: Decimal, *, maker: bool) -> None:
        market = self._market(order["symbol"])
        notional = qty * price
        fee_asset = self.commission_asset or market.quote
        fee_value = notional * self.fee_rate
        if fee_asset != market.quote:
            fee_value /= self.prices[f"{fee_asset}{market.quote}"]
        commission = fee_value.quantize(EIGHT)
        wallet = self._wallet
        for asset in (market.base, market.quote, fee_asset):
            wallet.setdefault(asset, [Decimal(0), Decimal(0)])
        if order["_lock"]:
            unit = Decimal(order["price"]) * (1 + self.fee_rate) if order["side"] == "BUY" else 1
            self._release(order, qty * unit)
        sign = 1 if order["side"] == "BUY" else -1
        wallet[market.base][0] += sign * qty
        wallet[market.quote][0] -= sign * notional
        wallet[fee_asset][0] -= commission
        self._record_trade(order, market, qty, price, commission, fee_asset, maker)

    def _record_trade(self, order: dict[str, Any], market: Market, qty: Decimal, price: Decimal,
                      commission: Decimal, fee_asset: str, maker: bool) -> None:
        executed = Decimal(order["executedQty"]) + qty
        order["executedQty"] = _fmt(executed)
        order["cummulativeQuoteQty"] = _fmt(Decimal(order["cummulativeQuoteQty"]) + qty * price)
        order["status"] = "FILLED" if executed == Decimal(order["origQty"]) else "PARTIALLY_FILLED"
        order["updateTime"] = self.now_ms
        self.trades.append({
            "symbol": order["symbol"], "id": next(self._ids), "orderId": order["orderId"],
            "orderListId": -1, "price": _fmt(price), "qty": _fmt(qty),
            "quoteQty": _fmt(qty * price), "commission": _fmt(commission),
            "commissionAsset": fee_asset, "time": self.now_ms,
            "isBuyer": order["side"] == "BUY", "isMaker": maker, "isBestMatch": True,
        })
        if order["status"] == "FILLED":
            self._release(order)

    def cancel(self, p: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            order = self._find(p)
            if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
                raise ExchangeRefusal(400, -2011, "Unknown order sent.")
            order["status"] = "CANCELED"
            order["updateTime"] = self.now_ms
            self._release(order)
            return {**self._public(order), "origClientOrderId": order["clientOrderId"]}

    def query(self, p: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            order = self._find(p)
            if order is None:
                raise ExchangeRefusal(400, -2013, "Order does not exist.")
            return self._public(order)

    def open_orders(self, p: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            return [self._public(o) for o in self.orders
                    if o["status"] in ("NEW", "PARTIALLY_FILLED")
                    and p.get("symbol") in (None, o["symbol"])]

    def all_orders(self, p: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            start = int(p.get("startTime", 0))
            rows = [self._public(o) for o in self.orders
                    if o["symbol"] == p.get("symbol") and o["time"] >= start]
            return rows[-int(p.get("limit", 500)):]

    def my_trades(self, p: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(t) for t in self.trades if t["symbol"] == p.get("symbol")
                    and ("orderId" not in p or str(t["orderId"]) == p["orderId"])]

    def account(self, p: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            balances = [{"asset": a, "free": _fmt(f), "locked": _fmt(lk)}
                        for a, (f, lk) in sorted(self._wallet.items())]
        return {"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
                "sellerCommission": 0, "canTrade": True, "canWithdraw": True,
                "canDeposit": True, "updateTime": self.now_ms, "accountType": "SPOT",
                "balances": balances, "permissions": ["SPOT"]}

    def ticker(self, p: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            market = self._market(p.get("symbol", ""))
            last = _fmt(self.prices[market.market_id])
        return {"symbol": market.market_id, "priceChange": "0", "priceChangePercent": "0",
                "weightedAvgPrice": last, "prevClosePrice": last, "lastPrice": last,
                "lastQty": "0.1", "bidPrice": last, "bidQty": "1", "askPrice": last,
                "askQty": "1", "openPrice": last, "highPrice": last, "lowPrice": last,
                "volume": "100", "quoteVolume": "100", "openTime": self.now_ms - 86_400_000,
                "closeTime": self.now_ms, "firstId": 1, "lastId": 2, "count": 2}

    def _find(self, p: dict[str, str]) -> dict[str, Any] | None:
        matches = [o for o in self.orders if o["symbol"] == p.get("symbol") and (
            str(o["orderId"]) == p.get("orderId") or o["clientOrderId"] == p.get("origClientOrderId")
        )]
        return matches[-1] if matches else None

    def _open_by_client_id(self, client_id: str) -> dict[str, Any] | None:
        return next((o for o in self.orders if o["clientOrderId"] == client_id
                     and o["status"] in ("NEW", "PARTIALLY_FILLED")), None)

    @staticmethod
    def _public(order: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in order.items() if not k.startswith("_")}


ROUTES = {
    "POST order": FakeBinanceSpot.place,
    "GET order": FakeBinanceSpot.query,
    "DELETE order": FakeBinanceSpot.cancel,
    "GET openOrders": FakeBinanceSpot.open_orders,
    "GET allOrders": FakeBinanceSpot.all_orders,
    "GET myTrades": FakeBinanceSpot.my_trades,
    "GET account": FakeBinanceSpot.account,
    "GET ticker/24hr": FakeBinanceSpot.ticker,
}
PUBLIC = {"GET ticker/24hr"}
EMPTY_LISTS = ("/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs",
               "/sapi/v1/margin/isolated/allPairs")


class _OrderHandler(_Handler):
    fake: FakeBinanceSpot

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        name = parts.path[len(SPOT_PREFIX):] if parts.path.startswith(SPOT_PREFIX) else ""
        if name in ("klines", "exchangeInfo") or parts.path.startswith(PERP_PREFIX):
            super().do_GET()
        elif name == "time":
            self._send(200, {"serverTime": self.fake.now_ms}, parts.path, {})
        elif parts.path in EMPTY_LISTS:
            self._send(200, [], parts.path, {})
        else:
            self._dispatch("GET")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length).decode()
            params.update({k: v[-1] for k, v in parse_qs(body).items()})
        params.pop("signature", None)
        name = parts.path[len(SPOT_PREFIX):] if parts.path.startswith(SPOT_PREFIX) else parts.path
        key = f"{method} {name}"
        recorded = {**params, "_method": method}
        route = ROUTES.get(key)
        if route is None:
            self._send(404, {"code": -1, "msg": f"unknown path {parts.path}"}, parts.path, recorded)
            return
        api_key = self.headers.get("X-MBX-APIKEY")
        if key not in PUBLIC:
            if not api_key:
                self._send(401, {"code": -2014, "msg": "API-key format invalid."}, parts.path,
                           recorded)
                return
            self.fake.api_keys_seen.add(api_key)
        fault = self.fake.next_order_fault(key)
        if fault is not None and self._fault_answered(fault, parts.path, recorded, api_key):
            return
        try:
            status, answer = 200, route(self.fake, params)
        except ExchangeRefusal as refusal:
            status, answer = refusal.status, {"code": refusal.code, "msg": refusal.msg}
        if fault is not None and fault.kind == "accept_then_timeout":
            self.fake.record(parts.path, recorded, status)  # seen now, answered too late
            time.sleep(fault.seconds)  # the client has given up by now
            self._write(status, answer)
            return
        if fault is not None and fault.kind == "accept_then_disconnect":
            self._break_off(answer, parts.path, recorded)
            return
        self._send(status, answer, parts.path, recorded)

    def _fault_answered(self, fault: OrderFault, path: str, recorded: dict[str, str],
                        api_key: str | None) -> bool:
        """Answer the request with the fault (True), or let it be processed (False)."""
        if fault.kind == "rate_limit":
            self._send(429, {"code": -1003, "msg": "Too many requests."}, path, recorded,
                       {"Retry-After": str(fault.retry_after)})
        elif fault.kind == "server_error":
            self._send(fault.status, "<html>Bad Gateway</html>", path, recorded)
        elif fault.kind == "disconnect":
            self.fake.record(path, recorded, 0)
            self.close_connection = True
        elif fault.kind == "duplicate":
            self._send(400, {"code": DUPLICATE[1], "msg": DUPLICATE[2]}, path, recorded)
        elif fault.kind == "insufficient_balance":
            self._send(400, {"code": INSUFFICIENT[1], "msg": INSUFFICIENT[2]}, path, recorded)
        elif fault.kind == "reject_key":
            msg = f"Invalid API-key, IP, or permissions for action. Key: {api_key}"
            self._send(401, {"code": -2015, "msg": msg}, path, recorded)
        else:
            if fault.kind == "hang":
                time.sleep(fault.seconds)
            return False
        return True

    def _write(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass

    def _break_off(self, answer: Any, path: str, recorded: dict[str, str]) -> None:
        payload = json.dumps(answer).encode()
        self.fake.record(path, recorded, 0)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload) + 100))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def point_ccxt_at(exchange: Any, base_url: str, ws_url: str | None = None) -> None:
    """Rebase every REST URL of a ccxt exchange (and, given `ws_url`, its websocket URLs)
    onto a local server, keeping the paths."""
    def rebase(urls: Any, base: str) -> Any:
        if isinstance(urls, str):
            parts = urlsplit(urls)
            return base + parts.path + (f"?{parts.query}" if parts.query else "")
        if isinstance(urls, dict):
            return {k: rebase(v, base) for k, v in urls.items()}
        return urls

    api = dict(exchange.urls["api"])
    ws = api.pop("ws", None)
    rebased = rebase(api, base_url)
    if ws is not None:
        rebased["ws"] = rebase(ws, ws_url) if ws_url else ws
    exchange.urls["api"] = rebased
