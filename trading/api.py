"""Market-data API: instruments, candles, indicators, quality reports."""

from __future__ import annotations

from ninja import Router, Schema

from trading.selectors import instrument_list

router = Router(tags=["market data"])


class InstrumentOut(Schema):
    id: int
    exchange: str
    symbol: str
    base: str
    quote: str
    market_type: str
    tick_size: float
    lot_size: float


@router.get("/instruments", response=list[InstrumentOut])
def instruments(request):
    return [
        {
            "id": i.pk,
            "exchange": i.exchange.code,
            "symbol": i.symbol,
            "base": i.base,
            "quote": i.quote,
            "market_type": i.market_type,
            "tick_size": float(i.tick_size),
            "lot_size": float(i.lot_size),
        }
        for i in instrument_list()
    ]
