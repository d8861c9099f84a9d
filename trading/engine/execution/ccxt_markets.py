"""Symbols and instrument rules of a ccxt exchange, as the engine names them.

The engine names a market 'BTCUSDT' (the exchange id) or 'BTC/USDT' (ccxt's
unified symbol); ccxt wants the unified symbol. Guarantees:
- `ccxt_symbol(s)` resolves either form (a spot market is preferred when an id
  is shared with a derivative) and `engine_symbol` maps back to the name the
  caller used, so orders and candles come back under the caller's symbol.
- `instrument(s)` is the `Instrument` given by the caller, or else one built
  from the exchange's market: tick and lot size from its precision (ccxt's
  TICK_SIZE or DECIMAL_PLACES modes) and the minimum notional from its limits.
- Markets are loaded once, lazily, through the retrier (so with backoff).
- `rounded_order` puts an order on an instrument's grid without ever making it
  larger or its price worse than asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import ccxt

from trading.engine.execution.retry import Retrier
from trading.engine.instruments import Instrument
from trading.engine.money import to_decimal
from trading.engine.orders.model import Order, OrderSide


class UnknownMarket(ValueError):
    """The exchange lists no market under that symbol."""


class MarketDirectory:
    def __init__(
        self, exchange: Any, retrier: Retrier, instruments: Iterable[Instrument] = ()
    ) -> None:
        self.exchange = exchange
        self.retrier = retrier
        self._instruments = {i.symbol: i for i in instruments}
        self._to_ccxt: dict[str, str] = {}
        self._to_engine: dict[str, str] = {}

    @property
    def configured_symbols(self) -> list[str]:
        """Engine symbols the caller declared instruments for."""
        return list(self._instruments)

    def markets(self) -> dict[str, Any]:
        if not self.exchange.markets:
            self.retrier.call(f"{self.exchange.id} load_markets", self.exchange.load_markets)
        return dict(self.exchange.markets or {})

    def ccxt_symbol(self, symbol: str) -> str:
        known = self._to_ccxt.get(symbol)
        if known is not None:
            return known
        market = self._market(symbol)
        unified = str(market["symbol"])
        self._to_ccxt[symbol] = unified
        self._to_engine.setdefault(unified, symbol)
        return unified

    def engine_symbol(self, unified: str) -> str:
        """The caller's name for a ccxt symbol (the unified symbol if never named)."""
        if unified not in self._to_engine:
            for symbol in self._instruments:
                self.ccxt_symbol(symbol)
        return self._to_engine.get(unified, unified)

    def instrument(self, symbol: str) -> Instrument:
        given = self._instruments.get(symbol)
        if given is not None:
            return given
        instrument = instrument_from_market(symbol, self._market(symbol), self.exchange)
        self._instruments[symbol] = instrument
        return instrument

    def _market(self, symbol: str) -> dict[str, Any]:
        markets = self.markets()
        if symbol in markets:
            return dict(markets[symbol])
        by_id = getattr(self.exchange, "markets_by_id", None) or {}
        candidates = by_id.get(symbol) or []
        if isinstance(candidates, dict):
            candidates = [candidates]
        if not candidates:
            raise UnknownMarket(f"{self.exchange.id} has no market {symbol!r}")
        spot = [m for m in candidates if m.get("spot")]
        return dict((spot or candidates)[0])


def instrument_from_market(symbol: str, market: dict[str, Any], exchange: Any) -> Instrument:
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    mode = getattr(exchange, "precisionMode", ccxt.TICK_SIZE)
    increments: dict[str, Decimal] = {}
    tick = _step(precision.get("price"), mode)
    lot = _step(precision.get("amount"), mode)
    if tick is not None:
        increments["tick_size"] = tick
    if lot is not None:
        increments["lot_size"] = lot
    min_cost = (limits.get("cost") or {}).get("min")
    if min_cost is not None and float(min_cost) > 0:
        increments["min_notional"] = to_decimal(float(min_cost))
    return Instrument(symbol, str(market["base"]), str(market["quote"]), **increments)


def _step(value: Any, mode: int) -> Decimal | None:
    if value is None:
        return None
    if mode == ccxt.DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(value))
    if mode == ccxt.TICK_SIZE:
        step = to_decimal(float(value))
        return step if step > 0 else None
    return None  # SIGNIFICANT_DIGITS has no fixed step: keep the Instrument default


def rounded_order(order: Order, instrument: Instrument) -> Order:
    """`order` on the instrument's grid: quantity rounded down to the lot, a limit price
    rounded to the tick in the trader's favour (down for a buy, up for a sell)."""
    price = order.limit_price
    if price is not None:
        price = instrument.round_price(price, up=order.side is OrderSide.SELL)
    return Order.create(
        client_order_id=order.client_order_id, symbol=order.symbol, side=order.side,
        quantity=instrument.round_quantity(order.quantity), created_ms=order.created_ms,
        limit_price=price, expires_ms=order.expires_ms, reduce_only=order.reduce_only,
        tag=order.tag,
    )
