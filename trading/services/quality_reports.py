"""Store what a load found: one `DataQualityReport` per import, backfill or resample."""

from __future__ import annotations

import time
from typing import Any

from trading.engine.quality import QualityFindings
from trading.models import DataQualityReport, Instrument
from trading.services.bulk_load import LoadResult


def quality_report_create(
    *,
    findings: QualityFindings,
    instrument: Instrument | None,
    timeframe: str,
    kind: str,
    source: str,
    location: str,
    loaded: LoadResult | None,
    started: float,
    details: dict[str, Any] | None = None,
    status: str | None = None,
) -> DataQualityReport:
    """The report row; `started` is a `time.perf_counter()` reading taken when the load began.

    `status` overrides the findings' status (a backfill rejected on a later page).
    """
    body = findings.as_details()
    body.update(details or {})
    body["summary"] = findings.summary()
    return DataQualityReport.objects.create(
        instrument=instrument,
        timeframe=timeframe,
        kind=kind,
        source=source,
        location=location[:500],
        status=status or findings.status,
        rows_total=findings.rows,
        rows_inserted=loaded.inserted if loaded else 0,
        rows_existing=loaded.existing if loaded else 0,
        first_time=findings.first_time,
        last_time=findings.last_time,
        duration_ms=int((time.perf_counter() - started) * 1000),
        **findings.counts(),
        details=body,
    )
