"""Read-side queries behind the Markets pages and the market-data API.

Complements `trading.selectors` (coverage, candle arrays, latest quality
report) with the shapes the dashboard shows: per instrument and timeframe the
stored range, the newest candle and the latest quality report, plus quality
report listings. Read-only; every query is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from trading.engine.market import TIMEFRAME_MS
from trading.models import Candle, DataQualityReport, Instrument, ms_to_datetime
from trading.selectors import instrument_coverage, instrument_list, latest_quality_report

# Report counters shown as "flagged problems" (field, label); gaps are shown separately.
QUALITY_PROBLEMS: tuple[tuple[str, str], ...] = (
    ("duplicates", "duplicates"),
    ("non_monotonic", "non-monotonic timestamps"),
    ("ohlc_inconsistent", "OHLC inconsistencies"),
    ("non_positive_prices", "non-positive prices"),
    ("negative_volume", "negative volumes"),
    ("zero_volume", "zero-volume bars"),
    ("outlier_returns", "outlier returns"),
)


@dataclass(frozen=True)
class LatestCandle:
    """The newest stored bar of one instrument and timeframe (also built from a live event)."""

    instrument_id: int
    timeframe: str
    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    @property
    def opened_at(self) -> datetime:
        return ms_to_datetime(self.open_time)

    @property
    def rising(self) -> bool:
        return self.close >= self.open

    @classmethod
    def from_candle(cls, candle: Candle) -> LatestCandle:
        return cls(
            candle.instrument_id,
            candle.timeframe,
            candle.open_time,
            candle.open,
            candle.high,
            candle.low,
            candle.close,
            candle.volume,
        )


@dataclass(frozen=True)
class TimeframeCoverage:
    timeframe: str
    bars: int
    first_time: int
    last_time: int
    latest: LatestCandle | None
    quality: DataQualityReport | None

    @property
    def first_at(self) -> datetime:
        return ms_to_datetime(self.first_time)

    @property
    def last_at(self) -> datetime:
        return ms_to_datetime(self.last_time)

    @property
    def problems(self) -> list[tuple[str, int]]:
        return quality_problems(self.quality) if self.quality else []


@dataclass(frozen=True)
class InstrumentOverview:
    instrument: Instrument
    timeframes: list[TimeframeCoverage]


def timeframe_sort_key(timeframe: str) -> tuple[int, str]:
    return (TIMEFRAME_MS.get(timeframe, 1 << 62), timeframe)


def quality_problems(report: DataQualityReport) -> list[tuple[str, int]]:
    """(label, count) for every non-zero problem counter of a report."""
    found = [(label, getattr(report, field)) for field, label in QUALITY_PROBLEMS]
    return [(label, count) for label, count in found if count]


def latest_candle(instrument_id: int, timeframe: str) -> LatestCandle | None:
    candle = (
        Candle.objects.filter(instrument_id=instrument_id, timeframe=timeframe)
        .order_by("-open_time")
        .first()
    )
    return LatestCandle.from_candle(candle) if candle else None


def instrument_timeframes(instrument: Instrument) -> list[TimeframeCoverage]:
    """Stored timeframes of `instrument`, finest first, with range, newest bar and quality."""
    rows = sorted(instrument_coverage(instrument), key=lambda r: timeframe_sort_key(r["timeframe"]))
    return [
        TimeframeCoverage(
            timeframe=row["timeframe"],
            bars=row["bars"],
            first_time=row["first"],
            last_time=row["last"],
            latest=latest_candle(instrument.pk, row["timeframe"]),
            quality=latest_quality_report(instrument, row["timeframe"]),
        )
        for row in rows
    ]


def market_overview() -> list[InstrumentOverview]:
    return [InstrumentOverview(i, instrument_timeframes(i)) for i in instrument_list()]


MAX_DB_ID = 2**63 - 1


def instrument_get(instrument_id: int) -> Instrument | None:
    if not 1 <= instrument_id <= MAX_DB_ID:  # out of bigint range: cannot exist
        return None
    return Instrument.objects.select_related("exchange").filter(pk=instrument_id).first()


def last_open_time(instrument_id: int, timeframe: str) -> int | None:
    """Open time of the newest stored bar, or None when there is none."""
    return (
        Candle.objects.filter(instrument_id=instrument_id, timeframe=timeframe)
        .order_by("-open_time")
        .values_list("open_time", flat=True)
        .first()
    )


def next_open_time(
    instrument_id: int, timeframe: str, *, at_or_after: int, before: int
) -> int | None:
    """Open time of the first stored bar in [at_or_after, before), or None."""
    return (
        Candle.objects.filter(
            instrument_id=instrument_id,
            timeframe=timeframe,
            open_time__gte=at_or_after,
            open_time__lt=before,
        )
        .order_by("open_time")
        .values_list("open_time", flat=True)
        .first()
    )


def quality_report_list(
    *, instrument_id: int | None = None, timeframe: str | None = None, limit: int = 50
) -> QuerySet[DataQualityReport]:
    reports = DataQualityReport.objects.select_related("instrument__exchange")
    if instrument_id is not None:
        reports = reports.filter(instrument_id=instrument_id)
    if timeframe:
        reports = reports.filter(timeframe=timeframe)
    return reports.order_by("-created_at", "-id")[:limit]


def quality_report_get(report_id: int) -> DataQualityReport | None:
    if not 1 <= report_id <= MAX_DB_ID:
        return None
    return (
        DataQualityReport.objects.select_related("instrument__exchange")
        .filter(pk=report_id)
        .first()
    )
