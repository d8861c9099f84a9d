"""What the engine must know about a tradable instrument.

Guarantees: an `Instrument` names its base and quote assets and the exchange's
increments; `round_quantity` never rounds up (an order is never larger than
sized); `round_price` rounds down, or up with `up=True`, so a simulator can
round a buy fill up and a sell fill down and never fill better than the
exchange's price grid allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.engine.money import Number, round_down, round_up, to_decimal

_KNOWN_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "EUR", "BTC", "ETH")


@dataclass(frozen=True)
class Instrument:
    symbol: str
    base: str
    quote: str
    tick_size: Decimal = Decimal("0.01")
    lot_size: Decimal = Decimal("0.00001")
    min_notional: Decimal = Decimal("0")

    def __post_init__(self) -> None:
        if not (self.symbol and self.base and self.quote) or self.base == self.quote:
            raise ValueError(f"instrument {self.symbol!r} needs distinct base and quote assets")
        if self.tick_size <= 0 or self.lot_size <= 0 or self.min_notional < 0:
            raise ValueError(f"instrument {self.symbol}: increments must be positive")

    @classmethod
    def from_symbol(cls, symbol: str, **increments: Decimal) -> Instrument:
        """Parse 'BTC/USDT' (ccxt) or 'BTCUSDT' (exchange id) into base and quote."""
        if "/" in symbol:
            base, quote = symbol.split("/", 1)
            return cls(symbol, base, quote.split(":")[0], **increments)
        for quote in _KNOWN_QUOTES:
            if symbol.endswith(quote) and len(symbol) > len(quote):
                return cls(symbol, symbol[: -len(quote)], quote, **increments)
        raise ValueError(f"cannot tell base and quote apart in {symbol!r}; use BASE/QUOTE")

    def round_quantity(self, quantity: Number) -> Decimal:
        return round_down(to_decimal(quantity), self.lot_size)

    def round_price(self, price: Number, *, up: bool = False) -> Decimal:
        value = to_decimal(price)
        return round_up(value, self.tick_size) if up else round_down(value, self.tick_size)

    def is_lot_multiple(self, quantity: Decimal) -> bool:
        return quantity % self.lot_size == 0

    def is_tick_multiple(self, price: Decimal) -> bool:
        return price % self.tick_size == 0
