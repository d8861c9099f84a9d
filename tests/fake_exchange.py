"""A local HTTP server that answers like Binance's public REST API, for ccxt.

Serves what ccxt's binance `load_markets` and `fetch_ohlcv` call:
- GET /api/v3/exchangeInfo and /fapi/v1/exchangeInfo: the configured markets
  with PRICE_FILTER / LOT_SIZE / NOTIONAL filters (tick, lot, min notional);
- GET /api/v3/klines and /fapi/v1/klines: candles opening at or after
  `startTime` (and at or before `endTime`), at most `limit` (default 500, max
  1000), as Binance's 12-field arrays with string prices. Only bars that have
  opened by the server's `now_ms` are served; the bar in progress at `now_ms`
  is served too, as Binance does, with a partial close and volume.

Faults are queued per endpoint ("klines" or "exchangeInfo") and consumed one
per request, in order: `Fault.ok()` (a normal answer),
`Fault.rate_limit(retry_after)` (429 + Retry-After), `Fault.server_error(502)`,
`Fault.timeout(seconds)` (answers only after sleeping), and
`Fault.bad_page(kind)` with kind "non_numeric", "wrong_shape", "out_of_order"
or "not_json" (an HTML page with status 200). Every request is recorded (path, query, status, time).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from trading.engine.market import Bars, timeframe_ms

SPOT_PREFIX = "/api/v3/"
PERP_PREFIX = "/fapi/v1/"


@dataclass(frozen=True)
class Fault:
    kind: str  # ok, rate_limit, status, timeout, malformed
    status: int = 200
    retry_after: int | None = None
    seconds: float = 0.0
    malformed: str = ""

    @classmethod
    def ok(cls) -> Fault:
        """No fault: answer normally (to place a fault on a later request)."""
        return cls("ok")

    @classmethod
    def rate_limit(cls, retry_after: int = 1) -> Fault:
        return cls("rate_limit", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 502) -> Fault:
        return cls("status", status=status)

    @classmethod
    def timeout(cls, seconds: float) -> Fault:
        return cls("timeout", seconds=seconds)

    @classmethod
    def bad_page(cls, kind: str) -> Fault:
        assert kind in ("non_numeric", "wrong_shape", "out_of_order", "not_json"), kind
        return cls("malformed", malformed=kind)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    query: dict[str, str]
    status: int
    at: float


@dataclass
class Market:
    base: str
    quote: str
    tick_size: str = "0.01"
    lot_size: str = "0.00001"
    min_notional: str = "5"

    @property
    def market_id(self) -> str:
        return f"{self.base}{self.quote}"


@dataclass
class FakeBinance:
    """Start with `with FakeBinance(...) as fake:`; point ccxt at `fake.base_url`."""

    now_ms: int
    markets: list[Market] = field(default_factory=lambda: [Market("BTC", "USDT")])
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._candles: dict[tuple[str, str, str], Bars] = {}
        self._faults: dict[str, deque[Fault]] = {"klines": deque(), "exchangeInfo": deque()}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---- configuration -------------------------------------------------------
    def serve_candles(self, market_id: str, bars: Bars, *, perp: bool = False) -> None:
        self._candles[("perp" if perp else "spot", market_id, bars.timeframe)] = bars

    def inject(self, endpoint: str, *faults: Fault) -> None:
        with self._lock:
            self._faults[endpoint].extend(faults)

    def klines_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/klines")]

    # ---- lifecycle -------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeBinance:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ---- answers -------------------------------------------------------------------
    def next_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(endpoint)
            return queue.popleft() if queue else None

    def record(self, path: str, query: dict[str, str], status: int) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(path, query, status, time.monotonic()))

    def exchange_info(self, perp: bool) -> dict[str, Any]:
        return {"timezone": "UTC", "serverTime": self.now_ms, "rateLimits": [],
                "exchangeFilters": [], "symbols": [_market_info(m, perp) for m in self.markets]}

    def klines(self, perp: bool, query: dict[str, str]) -> list[list[Any]]:
        interval = query.get("interval", "1h")
        bars = self._candles.get(("perp" if perp else "spot", query.get("symbol", ""), interval))
        if bars is None:
            return []
        limit = min(int(query.get("limit", 500)), 1000)
        opened = bars.timestamps <= self.now_ms
        if "endTime" in query:
            opened &= bars.timestamps <= int(query["endTime"])
        if "startTime" in query:
            index = np.flatnonzero(opened & (bars.timestamps >= int(query["startTime"])))[:limit]
        else:
            index = np.flatnonzero(opened)[-limit:]
        return [self._kline(bars, int(i), timeframe_ms(interval)) for i in index]

    def _kline(self, bars: Bars, i: int, interval: int) -> list[Any]:
        open_time = int(bars.timestamps[i])
        close, volume = float(bars.close[i]), float(bars.volume[i])
        if open_time + interval > self.now_ms:  # still in progress: a partial bar
            close, volume = float(bars.open[i]), volume / 3
        return [open_time, _s(bars.open[i]), _s(bars.high[i]), _s(bars.low[i]), _s(close),
                _s(volume), open_time + interval - 1, "0", 100, "0", "0", "0"]


def _s(value: float) -> str:
    return repr(float(value))


def _market_info(market: Market, perp: bool) -> dict[str, Any]:
    filters = [
        {"filterType": "PRICE_FILTER", "minPrice": market.tick_size, "maxPrice": "1000000",
         "tickSize": market.tick_size},
        {"filterType": "LOT_SIZE", "minQty": market.lot_size, "maxQty": "9000",
         "stepSize": market.lot_size},
        {"filterType": "NOTIONAL" if not perp else "MIN_NOTIONAL",
         "minNotional": market.min_notional, "notional": market.min_notional},
    ]
    info: dict[str, Any] = {
        "symbol": market.market_id, "status": "TRADING", "baseAsset": market.base,
        "quoteAsset": market.quote, "baseAssetPrecision": 8, "quotePrecision": 8,
        "quoteAssetPrecision": 8, "orderTypes": ["LIMIT", "MARKET"], "filters": filters,
    }
    if perp:
        info.update(pair=market.market_id, contractType="PERPETUAL", deliveryDate=4133404800000,
                    onboardDate=1569398400000, marginAsset=market.quote, pricePrecision=2,
                    quantityPrecision=3, underlyingType="COIN")
    else:
        info.update(isSpotTradingAllowed=True, isMarginTradingAllowed=True,
                    permissions=["SPOT"], permissionSets=[["SPOT"]])
    return info


def _corrupt(rows: list[list[Any]], kind: str) -> Any:
    if kind == "not_json":
        return "<html><body>Service temporarily rerouted</body></html>"
    rows = [list(r) for r in rows]
    if kind == "non_numeric" and rows:
        rows[len(rows) // 2][4] = "not-a-number"
    elif kind == "wrong_shape":
        rows = [r[:3] for r in rows]
    elif kind == "out_of_order":
        rows = rows[::-1]
    return rows


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBinance

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        perp = parts.path.startswith(PERP_PREFIX)
        endpoint = parts.path.rsplit("/", 1)[-1]
        known = parts.path.startswith((SPOT_PREFIX, PERP_PREFIX))
        if not known or endpoint not in ("klines", "exchangeInfo"):
            self._send(404, {"code": -1, "msg": f"unknown path {parts.path}"}, parts.path, query)
            return
        fault = self.fake.next_fault(endpoint)
        if fault is not None and fault.kind == "timeout":
            time.sleep(fault.seconds)
        elif fault is not None and fault.kind == "rate_limit":
            self._send(429, {"code": -1003, "msg": "Too many requests."}, parts.path, query,
                       {"Retry-After": str(fault.retry_after)})
            return
        elif fault is not None and fault.kind == "status":
            self._send(fault.status, "<html>Bad Gateway</html>", parts.path, query)
            return
        if endpoint == "exchangeInfo":
            body: Any = self.fake.exchange_info(perp)
        else:
            body = self.fake.klines(perp, query)
            if fault is not None and fault.kind == "malformed":
                body = _corrupt(body, fault.malformed)
        self._send(200, body, parts.path, query)

    def _send(self, status: int, body: Any, path: str, query: dict[str, str],
              headers: dict[str, str] | None = None) -> None:
        self.fake.record(path, query, status)
        payload = (body if isinstance(body, str) else json.dumps(body)).encode()
        try:
            self.send_response(status)
            content_type = "text/html" if isinstance(body, str) else "application/json"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass
