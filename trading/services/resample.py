"""Store higher-timeframe candles derived from stored ones (1h -> 4h, 1d).

Guarantees: aggregation and partial-bar rules are those of
`trading.engine.resample` (UTC-aligned, nothing invented, partial edge bars
dropped unless `edge_partial="flag"`); the derived candles and a quality report
(source "resample", listing target bars with missing source bars) are written
in one transaction. Existing target candles are kept unless `replace=True`,
which deletes the instrument's target-timeframe candles first (use it after
the source data changed).
"""

from __future__ import annotations

import time

from django.db import transaction

from trading.engine.market import timeframe_ms
from trading.engine.quality import check_candles
from trading.engine.resample import EdgePartial, IncompleteBar, resample_bars
from trading.models import Candle, DataQualityReport, Instrument
from trading.selectors import candle_arrays
from trading.services.candles import candle_arrays_store
from trading.services.quality_reports import quality_report_create


def candles_resample(
    *,
    instrument: Instrument,
    source_timeframe: str,
    target_timeframe: str,
    edge_partial: EdgePartial = "drop",
    replace: bool = False,
) -> DataQualityReport:
    started = time.perf_counter()
    source = candle_arrays(instrument, source_timeframe)
    if len(source) == 0:
        raise ValueError(f"{instrument} has no {source_timeframe} candles to resample")
    result = resample_bars(source, target_timeframe, edge_partial=edge_partial)
    bars = result.bars
    findings = check_candles(bars.timestamps, bars.open, bars.high, bars.low, bars.close,
                             bars.volume, interval_ms=timeframe_ms(target_timeframe))
    details = {
        "source_timeframe": source_timeframe,
        "source_bars": len(source),
        "edge_partial": edge_partial,
        "incomplete_bars": [_as_dict(b) for b in result.incomplete[:500]],
        "incomplete_bar_count": len(result.incomplete),
        "missing_source_bars": result.missing_source_bars,
        "dropped_edge_bars": [_as_dict(b) for b in result.dropped_edges],
    }
    with transaction.atomic():
        if replace:
            Candle.objects.filter(instrument=instrument, timeframe=target_timeframe).delete()
        loaded = candle_arrays_store(
            instrument, target_timeframe, bars.timestamps,
            {name: getattr(bars, name) for name in ("open", "high", "low", "close", "volume")},
            None,
        )
        return quality_report_create(
            findings=findings, instrument=instrument, timeframe=target_timeframe, kind="candles",
            source=DataQualityReport.Source.RESAMPLE,
            location=f"{instrument} {source_timeframe} -> {target_timeframe}",
            loaded=loaded, started=started, details=details,
            status="warnings" if result.incomplete and findings.status == "ok" else None,
        )


def _as_dict(bar: IncompleteBar) -> dict[str, int | bool]:
    return {"open_time": bar.open_time, "expected": bar.expected, "present": bar.present,
            "at_edge": bar.at_edge}
