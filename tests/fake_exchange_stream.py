"""A local websocket server that speaks Binance's market streams, for ccxt.pro.

It answers the SUBSCRIBE requests ccxt.pro's binance sends
(`{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1h"], "id": 1}` ->
`{"result": null, "id": 1}`) and pushes the events a test gives it, in
Binance's own formats (`kline_event`, `mini_ticker_event` build them from bar values),
to every connection subscribed to that stream. `drop_connections()` cuts every
connection without a closing handshake, as a network failure would.

Point ccxt.pro at it with `point_ccxt_at(exchange, rest_url, ws_url=fake.ws_base)`:
`ws_base` keeps "/stream" in the path, which ccxt.pro's binance reads to know
the connection carries spot streams.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve


def kline_event(market_id: str, interval: str, open_ms: int, span_ms: int,
                ohlcv: tuple[float, float, float, float, float], *, closed: bool = False,
                event_ms: int | None = None) -> dict[str, Any]:
    o, h, low, c, v = (repr(float(x)) for x in ohlcv)
    return {
        "e": "kline", "E": event_ms or open_ms + span_ms - 1, "s": market_id,
        "k": {"t": open_ms, "T": open_ms + span_ms - 1, "s": market_id, "i": interval,
              "f": 100, "L": 200, "o": o, "c": c, "h": h, "l": low, "v": v, "n": 100,
              "x": closed, "q": "0", "V": "0", "Q": "0", "B": "0"},
    }


def mini_ticker_event(market_id: str, price: float, ts_ms: int) -> dict[str, Any]:
    """The `<symbol>@miniTicker` event, the stream ccxt.pro's binance watches for a ticker."""
    p = repr(float(price))
    return {"e": "24hrMiniTicker", "E": ts_ms, "s": market_id, "c": p, "o": p, "h": p,
            "l": p, "v": "100", "q": "100"}


class FakeBinanceStream:
    def __init__(self) -> None:
        self.subscriptions: list[str] = []
        self.connections_opened = 0
        self._subscribers: dict[str, set[ServerConnection]] = {}
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def ws_base(self) -> str:
        assert self._server is not None, "server not started"
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/stream"

    def __enter__(self) -> FakeBinanceStream:
        self._thread.start()
        self._server = self._call(self._start())
        return self

    async def _start(self) -> Server:
        return await serve(self._handle, "127.0.0.1", 0, ping_interval=None)

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            self._call(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # ---- test controls -------------------------------------------------------------------
    def wait_subscribed(self, stream: str, *, count: int = 1, timeout_s: float = 10.0) -> None:
        """Block until `count` SUBSCRIBE requests named `stream` (case-insensitive) arrived."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self.subscriptions.count(stream.lower()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no subscription to {stream}: {self.subscriptions}")
                self._changed.wait(left)

    def push(self, stream: str, event: dict[str, Any]) -> None:
        """Send `event` to the connections subscribed to `stream`, in order."""
        self._call(self._send(stream.lower(), json.dumps(event)))

    def drop_connections(self) -> None:
        self._call(self._drop())

    # ---- server side -----------------------------------------------------------------------
    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _handle(self, connection: ServerConnection) -> None:
        with self._changed:
            self.connections_opened += 1
        try:
            async for raw in connection:
                request = json.loads(raw)
                if request.get("method") == "SUBSCRIBE":
                    await connection.send(json.dumps({"result": None, "id": request.get("id")}))
                    with self._changed:
                        for stream in request.get("params", []):
                            self._subscribers.setdefault(stream.lower(), set()).add(connection)
                            self.subscriptions.append(stream.lower())
                        self._changed.notify_all()
        except Exception:  # noqa: BLE001 - a dropped client ends its handler
            return
        finally:
            for members in self._subscribers.values():
                members.discard(connection)

    async def _send(self, stream: str, payload: str) -> None:
        for connection in list(self._subscribers.get(stream, ())):
            await connection.send(payload)

    async def _drop(self) -> None:
        for members in self._subscribers.values():
            for connection in list(members):
                connection.transport.abort()
            members.clear()
