"""Read-side queries for market data. Engines get numpy arrays, never model rows."""

from __future__ import annotations

import numpy as np
from django.db import connection
from django.db.models import Count, Max, Min, QuerySet

from trading.engine.market import Bars
from trading.models import Candle, DataQualityReport, FundingRate, Instrument


def market_data_totals() -> dict[str, int]:
    return {"instruments": Instrument.objects.count(), "candles": Candle.objects.count()}


def instrument_list() -> QuerySet[Instrument]:
    return Instrument.objects.select_related("exchange").order_by("exchange__code", "symbol", "market_type")


def instrument_coverage(instrument: Instrument) -> list[dict]:
    """Per timeframe: bar count, first and last open time (ms)."""
    rows = (
        Candle.objects.filter(instrument=instrument)
        .values("timeframe")
        .annotate(bars=Count("id"), first=Min("open_time"), last=Max("open_time"))
        .order_by("timeframe")
    )
    return list(rows)


def latest_quality_report(instrument: Instrument, timeframe: str | None = None) -> DataQualityReport | None:
    qs = DataQualityReport.objects.filter(instrument=instrument, kind="candles")
    if timeframe:
        qs = qs.filter(timeframe=timeframe)
    return qs.order_by("-created_at", "-id").first()


def candle_arrays(
    instrument: Instrument | int,
    timeframe: str,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    with_funding: bool = False,
) -> Bars:
    """Bars for [start_ms, end_ms) straight from the database cursor into numpy arrays."""
    instrument_id = instrument if isinstance(instrument, int) else instrument.pk
    sql = [
        f"SELECT open_time, open, high, low, close, volume FROM {Candle._meta.db_table}",
        "WHERE instrument_id = %s AND timeframe = %s",
    ]
    params: list = [instrument_id, timeframe]
    if start_ms is not None:
        sql.append("AND open_time >= %s")
        params.append(start_ms)
    if end_ms is not None:
        sql.append("AND open_time < %s")
        params.append(end_ms)
    sql.append("ORDER BY open_time")
    with connection.cursor() as cursor:
        cursor.execute(" ".join(sql), params)
        rows = cursor.fetchall()
    data = np.array(rows, dtype=np.float64).reshape(-1, 6)
    symbol = instrument.symbol if isinstance(instrument, Instrument) else ""
    funding = _funding_aligned(instrument_id, data[:, 0].astype(np.int64)) if with_funding else None
    return Bars.from_arrays(
        data[:, 0].astype(np.int64),
        data[:, 1],
        data[:, 2],
        data[:, 3],
        data[:, 4],
        data[:, 5],
        symbol=symbol,
        timeframe=timeframe,
        funding_rate=funding,
    )


def _funding_aligned(instrument_id: int, timestamps: np.ndarray) -> np.ndarray:
    """The last funding rate known at or before each bar's open (NaN before the first)."""
    out = np.full(len(timestamps), np.nan)
    if len(timestamps) == 0:
        return out
    rows = list(
        FundingRate.objects.filter(instrument_id=instrument_id, funding_time__lte=int(timestamps[-1]))
        .order_by("funding_time")
        .values_list("funding_time", "rate")
    )
    if not rows:
        return out
    times = np.array([r[0] for r in rows], dtype=np.int64)
    rates = np.array([r[1] for r in rows], dtype=np.float64)
    idx = np.searchsorted(times, timestamps, side="right") - 1
    ok = idx >= 0
    out[ok] = rates[idx[ok]]
    return out
