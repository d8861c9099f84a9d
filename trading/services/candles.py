"""Candle and funding imports from files, and the one write path for new candles.

Guarantees:
- A file with structural problems writes nothing but a rejected quality report
  (with the row numbers); a readable file is stored whole, exactly as given,
  with its gaps kept and reported (never interpolated).
- Imports are idempotent: a second import of the same file inserts nothing and
  reports every row as existing.
- Every write of candles goes through `candle_arrays_store`, which publishes
  "candle.stored" (after commit) when the instrument's newest candle of that
  timeframe was among the rows inserted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction

from organism.errors import DataError
from organism.realtime import group_for_instrument, group_markets, publish_after_commit
from trading.engine.candle_files import read_candle_file, read_funding_file
from trading.engine.market import timeframe_ms
from trading.engine.quality import check_candles, check_funding
from trading.models import Candle, DataQualityReport, Instrument
from trading.services.bulk_load import LoadResult, Progress, candle_rows_load, funding_rows_load
from trading.services.instruments import (
    instrument_find,
    instrument_get_or_create,
    split_symbol,
)
from trading.services.quality_reports import quality_report_create

OHLCV = ("open", "high", "low", "close", "volume")
FUNDING_INTERVAL_MS = 8 * 3_600_000


def candles_import(
    *,
    path: str | Path,
    exchange: str,
    symbol: str,
    timeframe: str,
    market_type: str = "spot",
    progress: Progress | None = None,
) -> DataQualityReport:
    """Load a CSV / CSV.gz / Parquet candle file; returns the stored quality report."""
    started = time.perf_counter()
    interval = timeframe_ms(timeframe)
    split_symbol(symbol)  # a bad symbol or timeframe fails before any work
    parsed = read_candle_file(path)
    findings = check_candles(
        parsed.timestamps, parsed.open, parsed.high, parsed.low, parsed.close, parsed.volume,
        interval_ms=interval, structural=parsed.problems, notes=parsed.notes,
    )
    location = str(Path(path).resolve())
    details = {"exchange": exchange, "symbol": symbol, "market_type": market_type,
               "file_format": parsed.file_format, "timestamp_format": parsed.timestamp_format}
    report_args: dict[str, Any] = {
        "timeframe": timeframe, "kind": "candles", "source": DataQualityReport.Source.FILE,
        "location": location, "details": details,
    }
    if findings.rejected:
        instrument = instrument_find(exchange=exchange, symbol=symbol, market_type=market_type)
        return quality_report_create(findings=findings, instrument=instrument, loaded=None,
                                     started=started, **report_args)
    with transaction.atomic():
        instrument = instrument_get_or_create(exchange=exchange, symbol=symbol,
                                              market_type=market_type)
        loaded = candle_arrays_store(
            instrument, timeframe, parsed.timestamps,
            {name: getattr(parsed, name) for name in OHLCV}, progress,
        )
        return quality_report_create(findings=findings, instrument=instrument, loaded=loaded,
                                     started=started, **report_args)


def funding_import(
    *,
    path: str | Path,
    exchange: str,
    symbol: str,
    market_type: str = "perp",
    progress: Progress | None = None,
) -> DataQualityReport:
    """Load a funding-rate file (timestamp, funding_rate) into the perpetual instrument."""
    started = time.perf_counter()
    split_symbol(symbol)
    parsed = read_funding_file(path)
    findings = check_funding(parsed.timestamps, parsed.rates, interval_ms=FUNDING_INTERVAL_MS,
                             structural=parsed.problems, notes=parsed.notes)
    details = {"exchange": exchange, "symbol": symbol, "market_type": market_type,
               "file_format": parsed.file_format, "timestamp_format": parsed.timestamp_format}
    report_args: dict[str, Any] = {
        "timeframe": "8h", "kind": "funding", "source": DataQualityReport.Source.FILE,
        "location": str(Path(path).resolve()), "details": details,
    }
    if findings.rejected:
        instrument = instrument_find(exchange=exchange, symbol=symbol, market_type=market_type)
        return quality_report_create(findings=findings, instrument=instrument, loaded=None,
                                     started=started, **report_args)
    with transaction.atomic():
        instrument = instrument_get_or_create(exchange=exchange, symbol=symbol,
                                              market_type=market_type)
        loaded = funding_rows_load(instrument_id=instrument.pk, timestamps=parsed.timestamps,
                                   rates=parsed.rates, progress=progress)
        return quality_report_create(findings=findings, instrument=instrument, loaded=loaded,
                                     started=started, **report_args)


def candles_store(
    *, instrument: Instrument, timeframe: str, rows: Sequence[Sequence[float]]
) -> LoadResult:
    """Store closed candles given as [open_time_ms, open, high, low, close, volume] rows.

    Used by the backfill and the live loop. Raises `DataError` (storing nothing) when
    the rows are malformed; already stored candles are left untouched.
    """
    table = _rows_table(rows)
    timestamps = table[:, 0].astype(np.int64)
    findings = check_candles(timestamps, *(table[:, i] for i in range(1, 6)),
                             interval_ms=timeframe_ms(timeframe))
    if findings.rejected:
        raise DataError(f"{instrument} {timeframe}: candles rejected",
                        [str(p) for p in findings.structural])
    with transaction.atomic():
        return candle_arrays_store(instrument, timeframe, timestamps,
                              {name: table[:, i + 1] for i, name in enumerate(OHLCV)}, None)


def _rows_table(rows: Sequence[Sequence[float]]) -> np.ndarray:
    """rows as an (n, 6) float array; DataError naming the first row that does not fit."""
    for number, row in enumerate(rows, start=1):
        if len(row) != 6:
            raise DataError("candles rejected", [f"row {number}: {len(row)} values, expected 6"])
    try:
        table = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    except (TypeError, ValueError) as exc:
        raise DataError("candles rejected", [f"non-numeric value: {exc}"]) from exc
    fractional = np.flatnonzero(table[:, 0] != np.round(table[:, 0]))
    if len(fractional):
        raise DataError("candles rejected", [f"row {i + 1}: open time is not whole milliseconds"
                                             for i in fractional[:20]])
    return table


def candle_arrays_store(
    instrument: Instrument,
    timeframe: str,
    timestamps: np.ndarray,
    values: dict[str, np.ndarray],
    progress: Progress | None = None,
) -> LoadResult:
    """Store already-checked candle arrays (the write path shared by every service)."""
    loaded = candle_rows_load(instrument_id=instrument.pk, timeframe=timeframe,
                              timestamps=timestamps, values=values, progress=progress)
    if loaded.latest_inserted is not None:
        _publish_if_newest(instrument, timeframe, loaded.latest_inserted)
    return loaded


def _publish_if_newest(instrument: Instrument, timeframe: str, open_time: int) -> None:
    """"candle.stored" for the newest candle, when this write is what made it the newest."""
    candles = Candle.objects.filter(instrument=instrument, timeframe=timeframe)
    if candles.filter(open_time__gt=open_time).exists():
        return
    candle = candles.get(open_time=open_time)
    publish_after_commit(
        [group_markets(), group_for_instrument(instrument.pk)],
        "candle.stored",
        {
            "instrument_id": instrument.pk,
            "symbol": instrument.symbol,
            "timeframe": timeframe,
            "open_time": candle.open_time,
            "open": candle.open,
            "high": candle.high,
            "low": candle.low,
            "close": candle.close,
            "volume": candle.volume,
        },
    )
