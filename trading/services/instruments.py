"""Exchanges and instruments: get-or-create from a unified symbol, with market sizes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction

from trading.models import Exchange, Instrument


@dataclass(frozen=True)
class MarketSizes:
    """Exchange trading rules for an instrument (0 = unknown)."""

    tick_size: Decimal = Decimal(0)
    lot_size: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)


def split_symbol(symbol: str) -> tuple[str, str]:
    """('BTC', 'USDT') from 'BTC/USDT' (or the perp form 'BTC/USDT:USDT')."""
    pair = symbol.split(":", 1)[0]
    base, sep, quote = pair.partition("/")
    if not sep or not base or not quote or "/" in quote:
        raise ValueError(f"symbol {symbol!r} must be a unified symbol like BTC/USDT")
    return base.upper(), quote.upper()


def normalize_symbol(symbol: str) -> str:
    """The stored form: 'BTC/USDT' (the settle suffix of a perp is implied by market type)."""
    base, quote = split_symbol(symbol.strip())
    return f"{base}/{quote}"


def exchange_get_or_create(*, code: str) -> Exchange:
    code = code.strip().lower()
    if not code:
        raise ValueError("exchange code is empty")
    exchange = Exchange.objects.filter(code=code).first()
    if exchange is not None:
        return exchange
    try:
        with transaction.atomic():
            # a display name editable in the admin (importing ccxt for it costs half a second)
            return Exchange.objects.create(code=code, name=code.capitalize())
    except IntegrityError:  # created concurrently
        return Exchange.objects.get(code=code)


def instrument_get_or_create(
    *, exchange: str, symbol: str, market_type: str = "spot", sizes: MarketSizes | None = None
) -> Instrument:
    """The instrument, created if new; known `sizes` update the stored ones."""
    if market_type not in Instrument.MarketType.values:
        raise ValueError(f"market type must be one of {', '.join(Instrument.MarketType.values)}")
    base, quote = split_symbol(symbol)
    venue = exchange_get_or_create(code=exchange)
    defaults: dict[str, object] = {"base": base, "quote": quote}
    if sizes is not None:
        defaults.update(
            tick_size=sizes.tick_size, lot_size=sizes.lot_size, min_notional=sizes.min_notional
        )
    lookup = {"exchange": venue, "symbol": f"{base}/{quote}", "market_type": market_type}
    instrument = Instrument.objects.select_related("exchange").filter(**lookup).first()
    if instrument is None:
        try:
            with transaction.atomic():
                return Instrument.objects.create(**lookup, **defaults)
        except IntegrityError:
            instrument = Instrument.objects.select_related("exchange").get(**lookup)
    if sizes is not None:
        _sizes_update(instrument, sizes)
    return instrument


def _sizes_update(instrument: Instrument, sizes: MarketSizes) -> None:
    changed = [
        name
        for name in ("tick_size", "lot_size", "min_notional")
        if getattr(sizes, name) and Decimal(getattr(instrument, name)) != getattr(sizes, name)
    ]
    for name in changed:
        setattr(instrument, name, getattr(sizes, name))
    if changed:
        instrument.save(update_fields=changed)


def instrument_find(*, exchange: str, symbol: str, market_type: str = "spot") -> Instrument | None:
    """The stored instrument, or None (never creates)."""
    try:
        stored_symbol = normalize_symbol(symbol)
    except ValueError:
        return None
    return (
        Instrument.objects.select_related("exchange")
        .filter(exchange__code=exchange.strip().lower(), symbol=stored_symbol,
                market_type=market_type)
        .first()
    )
