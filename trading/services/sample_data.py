"""Sample market data for a new installation (used by `organism_run`).

In order of preference:
1. ORGANISM_DATA_DIR: real Binance files (BTC/USDT and ETH/USDT 1h, perpetual funding);
2. online: a few months of BTC/USDT and ETH/USDT 1h backfilled through ccxt;
3. offline: a seeded synthetic market on the exchange "synthetic" with symbols
   ending in "-SYNTH", and the console says so.
Idempotent: nothing happens when candles are already stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from trading.models import Candle, Instrument

log = logging.getLogger(__name__)
Say = Callable[[str], None]

SAMPLE_SYMBOLS = ("BTC/USDT", "ETH/USDT")
BACKFILL_DAYS = 120
SYNTHETIC_DAYS = 180
SYNTHETIC_START_PRICES = {"BTC-SYNTH/USDT": 40_000.0, "ETH-SYNTH/USDT": 2_500.0}


def sample_data_ensure(*, say: Say, data_dir: Path | None = None, allow_network: bool = True) -> str:
    """Load sample data unless candles exist; returns the source used ('present', 'files', 'exchange', 'synthetic')."""
    if Candle.objects.exists():
        return "present"
    data_dir = data_dir or settings.ORGANISM_DATA_DIR
    if data_dir and Path(data_dir).is_dir():
        _load_files(Path(data_dir), say)
        return "files"
    if allow_network and _backfill(say):
        return "exchange"
    _load_synthetic(say)
    return "synthetic"


def _load_files(data_dir: Path, say: Say) -> None:
    from trading.services.candles import candles_import, funding_import

    for symbol in SAMPLE_SYMBOLS:
        stem = symbol.replace("/", "").lower()
        candles = data_dir / f"binance_{stem}_1h.csv.gz"
        if candles.exists():
            started = time.monotonic()
            report = candles_import(path=candles, exchange="binance", symbol=symbol, timeframe="1h")
            say(f"Loaded {report.rows_inserted:,} {symbol} 1h candles from {candles.name} "
                f"({report.get_status_display()}, {report.gap_count} gaps) in {time.monotonic() - started:.1f}s")
        funding = data_dir / f"binance_{stem}_perp_funding_8h.csv.gz"
        if funding.exists():
            report = funding_import(path=funding, exchange="binance", symbol=symbol)
            say(f"Loaded {report.rows_inserted:,} {symbol} funding rates from {funding.name}")


def _backfill(say: Say) -> bool:
    from trading.services.fetch import candles_fetch, wall_clock_ms

    since = wall_clock_ms() - BACKFILL_DAYS * 86_400_000
    try:
        for symbol in SAMPLE_SYMBOLS:
            report = candles_fetch(exchange="binance", symbol=symbol, timeframe="1h", since_ms=since)
            say(f"Backfilled {report.rows_inserted:,} {symbol} 1h candles from Binance")
    except Exception as exc:  # offline or blocked: fall back to synthetic data
        log.info("sample backfill unavailable: %s", exc)
        say(f"Could not reach Binance ({type(exc).__name__}); using a synthetic market instead.")
        return False
    return True


def _load_synthetic(say: Say) -> None:
    from trading.engine.synthetic import synthetic_bars
    from trading.services.candles import candle_arrays_store
    from trading.services.fetch import wall_clock_ms
    from trading.services.instruments import instrument_get_or_create

    hour = 3_600_000
    n = SYNTHETIC_DAYS * 24
    start = (wall_clock_ms() // hour - n) * hour
    for seed, (symbol, price) in enumerate(SYNTHETIC_START_PRICES.items(), start=11):
        bars = synthetic_bars(n=n, start_ms=start, start_price=price, seed=seed, symbol=symbol)
        instrument = instrument_get_or_create(exchange="synthetic", symbol=symbol)
        values = {k: getattr(bars, k) for k in ("open", "high", "low", "close", "volume")}
        candle_arrays_store(instrument, "1h", bars.timestamps, values)
    say(
        "SYNTHETIC MARKET: no data directory and no exchange reachable, so "
        f"{', '.join(SYNTHETIC_START_PRICES)} (exchange 'synthetic', {SYNTHETIC_DAYS} days of 1h) "
        "were generated. These are not real prices."
    )


def sample_instruments() -> list[Instrument]:
    return list(Instrument.objects.filter(market_type=Instrument.MarketType.SPOT).select_related("exchange"))
