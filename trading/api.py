"""Market-data API: instruments, candles, indicators, quality reports (mounted at /api/v1/).

Times are epoch milliseconds (bar OPEN time, UTC) with an ISO 8601 copy where
useful. Ranges are [start, end); `start`/`end` accept ISO 8601 or epoch ms.
Result sizes are bounded by `limit`; a truncated range answers `next_start`,
the `start` of the next page. Unknown instruments or reports are 404; every
other bad input is a 422 with field details, never a 500.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from django.http import Http404
from ninja import Field, Path, Query, Router, Schema
from pydantic import ValidationInfo, field_validator

from trading.charts import INDICATORS, IndicatorSpecError, indicator_bars, parse_indicator_specs
from trading.engine.market import TIMEFRAME_MS, timeframe_ms
from trading.instants import LATEST_MS, parse_instant
from trading.market_selectors import (
    MAX_DB_ID,
    instrument_get,
    last_open_time,
    next_open_time,
    quality_report_get,
    quality_report_list,
)
from trading.models import DataQualityReport, Instrument, ms_to_datetime
from trading.selectors import candle_arrays, instrument_coverage, instrument_list

router = Router(tags=["market data"])

MAX_CANDLES = 10_000
MAX_INSTRUMENTS = 500
MAX_REPORTS = 200
INSTANT_HELP = "ISO 8601 date or date-time (UTC when no offset) or epoch milliseconds"


# --- Schemas ---------------------------------------------------------------------------------
class ErrorOut(Schema):
    detail: str


class FieldErrorOut(Schema):
    type: str
    loc: list[str | int] = Field(description='Where, e.g. ["query", "start"]')
    msg: str


class ValidationErrorOut(Schema):
    detail: list[FieldErrorOut]


class CoverageOut(Schema):
    timeframe: str
    bars: int
    first_open_time: int = Field(description="Open time of the first stored bar, epoch ms")
    last_open_time: int = Field(description="Open time of the last stored bar, epoch ms")
    first: datetime
    last: datetime


class InstrumentOut(Schema):
    id: int
    exchange: str
    symbol: str
    base: str
    quote: str
    market_type: str
    tick_size: float
    lot_size: float
    min_notional: float
    active: bool
    coverage: list[CoverageOut]


class CandleOut(Schema):
    open_time: int = Field(description="Bar open time, epoch ms (UTC)")
    time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float = Field(description="Volume in the base asset")


class PageOut(Schema):
    instrument_id: int
    symbol: str
    timeframe: str
    start: int = Field(description="Start of the answered window, epoch ms (inclusive)")
    end: int = Field(description="End of the answered window, epoch ms (exclusive)")
    count: int
    next_start: int | None = Field(
        description="`start` of the next page; null when the range is done"
    )


class CandlesOut(PageOut):
    candles: list[CandleOut]


class IndicatorSeriesOut(Schema):
    key: str = Field(description="Canonical request, e.g. bollinger:20:2")
    indicator: str
    params: dict[str, float]
    output: str = Field(description="Output line, e.g. upper / middle / lower, or value")
    values: list[float | None] = Field(description="Aligned with `timestamps`; null during warm-up")


class IndicatorsOut(PageOut):
    timestamps: list[int]
    series: list[IndicatorSeriesOut]


class IndicatorParamOut(Schema):
    name: str
    type: str
    default: float
    minimum: float
    maximum: float
    description: str


class IndicatorInfoOut(Schema):
    name: str
    label: str
    placement: str
    params: list[IndicatorParamOut]
    outputs: list[str]


class QualityReportOut(Schema):
    id: int
    instrument_id: int | None
    timeframe: str
    kind: str
    source: str
    location: str
    status: str
    created_at: datetime
    rows_total: int
    rows_inserted: int
    rows_existing: int
    first_time: int | None
    last_time: int | None
    gap_count: int
    missing_bars: int
    duplicates: int
    non_monotonic: int
    ohlc_inconsistent: int
    non_positive_prices: int
    negative_volume: int
    zero_volume: int
    outlier_returns: int
    duration_ms: int


class QualityReportDetailOut(QualityReportOut):
    details: dict[str, Any]


# --- Query parameters ------------------------------------------------------------------------
class RangeQuery(Schema):
    instrument_id: int = Field(ge=1, le=MAX_DB_ID)
    timeframe: str = Field(description=f"One of {', '.join(TIMEFRAME_MS)}")
    start: int | str | None = Field(
        None, description=f"{INSTANT_HELP}; default: `limit` bars before `end`"
    )
    end: int | str | None = Field(
        None, description=f"{INSTANT_HELP}; exclusive; default: after the newest bar"
    )
    limit: int = Field(
        1000, ge=1, le=MAX_CANDLES, description=f"Bars per page, at most {MAX_CANDLES}"
    )

    @field_validator("timeframe")
    @classmethod
    def _known_timeframe(cls, value: str) -> str:
        if value not in TIMEFRAME_MS:
            raise ValueError(
                f"unknown timeframe {value!r}; expected one of {', '.join(TIMEFRAME_MS)}"
            )
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _instant(cls, value: object) -> int | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str | int):
            raise ValueError(INSTANT_HELP)
        return parse_instant(value)

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: int | None, info: ValidationInfo) -> int | None:
        start = info.data.get("start")
        if value is not None and start is not None and int(value) <= int(start):
            raise ValueError("end must be after start")
        return value


class IndicatorQuery(RangeQuery):
    names: str = Field(
        description="Comma-separated name[:param...] items, e.g. sma:20,rsi:14,bollinger:20:2,"
        "macd:12:26:9 (see GET /indicators/catalog)",
        max_length=500,
    )

    @field_validator("names")
    @classmethod
    def _parsable(cls, value: str) -> str:
        try:
            specs = parse_indicator_specs(value)
        except IndicatorSpecError as exc:
            raise ValueError(str(exc)) from None
        return ",".join(s.key for s in specs)


class QualityQuery(Schema):
    instrument_id: int | None = Field(None, ge=1, le=MAX_DB_ID)
    timeframe: str | None = Field(None, max_length=4)
    limit: int = Field(50, ge=1, le=MAX_REPORTS)


class ListQuery(Schema):
    limit: int = Field(100, ge=1, le=MAX_INSTRUMENTS)
    offset: int = Field(0, ge=0, le=1_000_000)


# --- Helpers ---------------------------------------------------------------------------------
def _instrument_or_404(instrument_id: int) -> Instrument:
    instrument = instrument_get(instrument_id)
    if instrument is None:
        raise Http404(f"instrument {instrument_id} not found")
    return instrument


def _instrument_out(instrument: Instrument) -> dict[str, Any]:
    return {
        "id": instrument.pk,
        "exchange": instrument.exchange.code,
        "symbol": instrument.symbol,
        "base": instrument.base,
        "quote": instrument.quote,
        "market_type": instrument.market_type,
        "tick_size": float(instrument.tick_size),
        "lot_size": float(instrument.lot_size),
        "min_notional": float(instrument.min_notional),
        "active": instrument.active,
        "coverage": [
            {
                "timeframe": row["timeframe"],
                "bars": row["bars"],
                "first_open_time": row["first"],
                "last_open_time": row["last"],
                "first": ms_to_datetime(row["first"]),
                "last": ms_to_datetime(row["last"]),
            }
            for row in instrument_coverage(instrument)
        ],
    }


def _window(query: RangeQuery) -> tuple[int, int, int | None]:
    """(start, end, next_start) of the page: at most `limit` bars from `start`.

    `next_start` skips empty stretches: it is the next stored bar's open time.
    """
    step = timeframe_ms(query.timeframe)
    end = query.end
    if end is None:
        newest = last_open_time(query.instrument_id, query.timeframe)
        end = min(LATEST_MS, (newest if newest is not None else 0) + step)
    end = int(end)
    start = int(query.start) if query.start is not None else max(0, end - query.limit * step)
    page_end = max(start, min(end, start + query.limit * step))
    following = None
    if page_end < end:
        following = next_open_time(
            query.instrument_id, query.timeframe, at_or_after=page_end, before=end
        )
    return start, page_end, following


def _page(
    instrument: Instrument, query: RangeQuery, start: int, end: int, nxt: int | None, count: int
):
    return {
        "instrument_id": instrument.pk,
        "symbol": instrument.symbol,
        "timeframe": query.timeframe,
        "start": start,
        "end": end,
        "count": count,
        "next_start": nxt,
    }


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values.tolist()]


# --- Endpoints -------------------------------------------------------------------------------
@router.get(
    "/instruments",
    response={200: list[InstrumentOut], 422: ValidationErrorOut},
    summary="Instruments with their stored coverage",
)
def instruments(request, query: Query[ListQuery]):
    chosen = instrument_list()[query.offset : query.offset + query.limit]
    return [_instrument_out(i) for i in chosen]


@router.get(
    "/instruments/{instrument_id}",
    response={200: InstrumentOut, 404: ErrorOut, 422: ValidationErrorOut},
    summary="One instrument",
)
def instrument(request, instrument_id: int = Path(..., ge=1, le=MAX_DB_ID)):
    return _instrument_out(_instrument_or_404(instrument_id))


@router.get(
    "/candles",
    response={200: CandlesOut, 404: ErrorOut, 422: ValidationErrorOut},
    summary="Stored candles of a range",
)
def candles(request, query: Query[RangeQuery]):
    """Closed OHLCV bars in [start, end), at most `limit` per page (follow `next_start`)."""
    instrument = _instrument_or_404(query.instrument_id)
    start, end, nxt = _window(query)
    bars = candle_arrays(instrument, query.timeframe, start_ms=start, end_ms=end)
    bars = bars.slice(0, min(len(bars), query.limit))
    rows = zip(
        bars.timestamps.tolist(),
        bars.open.tolist(),
        bars.high.tolist(),
        bars.low.tolist(),
        bars.close.tolist(),
        bars.volume.tolist(),
        strict=True,
    )
    out = [
        {
            "open_time": t,
            "time": ms_to_datetime(t),
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": v,
        }
        for t, o, h, lo, c, v in rows
    ]
    return {**_page(instrument, query, start, end, nxt, len(out)), "candles": out}


@router.get(
    "/indicators",
    response={200: IndicatorsOut, 404: ErrorOut, 422: ValidationErrorOut},
    summary="Indicator values over a range",
)
def indicators(request, query: Query[IndicatorQuery]):
    """Indicators computed from stored candles, warmed up on the bars before `start`."""
    instrument = _instrument_or_404(query.instrument_id)
    specs = parse_indicator_specs(query.names)
    start, end, nxt = _window(query)
    bars, computed = indicator_bars(
        instrument.pk, query.timeframe, specs, start_ms=start, end_ms=end
    )
    keep = min(len(bars), query.limit)
    series = [
        {
            "key": spec.key,
            "indicator": spec.name,
            "params": spec.params_by_name,
            "output": name,
            "values": _nullable(values[:keep]),
        }
        for spec in specs
        for name, values in computed[spec.key].items()
    ]
    timestamps = bars.timestamps[:keep].tolist()
    return {
        **_page(instrument, query, start, end, nxt, keep),
        "timestamps": timestamps,
        "series": series,
    }


@router.get("/indicators/catalog", response=list[IndicatorInfoOut], summary="Indicators available")
def indicator_catalog(request):
    return [
        {
            "name": d.name,
            "label": d.label,
            "placement": d.placement,
            "outputs": list(d.outputs),
            "params": [
                {
                    "name": p.name,
                    "type": p.kind.__name__,
                    "default": p.default,
                    "minimum": p.minimum,
                    "maximum": p.maximum,
                    "description": p.description,
                }
                for p in d.params
            ],
        }
        for d in INDICATORS.values()
    ]


@router.get(
    "/quality-reports",
    response={200: list[QualityReportOut], 404: ErrorOut, 422: ValidationErrorOut},
    summary="Data-quality reports, newest first",
)
def quality_reports(request, query: Query[QualityQuery]):
    if query.instrument_id is not None:
        _instrument_or_404(query.instrument_id)
    return list(
        quality_report_list(
            instrument_id=query.instrument_id, timeframe=query.timeframe, limit=query.limit
        )
    )


@router.get(
    "/quality-reports/{report_id}",
    response={200: QualityReportDetailOut, 404: ErrorOut, 422: ValidationErrorOut},
    summary="One quality report",
)
def quality_report(request, report_id: int = Path(..., ge=1, le=MAX_DB_ID)):
    report: DataQualityReport | None = quality_report_get(report_id)
    if report is None:
        raise Http404(f"quality report {report_id} not found")
    return report
