"""Console helpers shared by the market-data management commands."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import CommandError
from tqdm import tqdm

from trading.models import DataQualityReport, ms_to_datetime


class ProgressBar:
    """A tqdm bar fed by a service's `progress(done, total)` callback."""

    def __init__(self, description: str, stream, unit: str = "rows"):
        self._bar: tqdm | None = None
        self._description = description
        self._stream = stream
        self._unit = unit

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = tqdm(total=total, desc=self._description, unit=self._unit,
                             file=self._stream, unit_scale=True, leave=True)
        self._bar.total = max(total, done)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def parse_when(value: str) -> int:
    """ms since the epoch from '2024-01-01', an ISO datetime (UTC unless offset) or ms."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD), ISO datetime or ms") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def utc(ms: int | None) -> str:
    return "-" if ms is None else f"{ms_to_datetime(ms):%Y-%m-%d %H:%M} UTC"


def report_lines(report: DataQualityReport, max_gaps: int = 10) -> list[str]:
    """The quality summary of a report, with the first gap ranges."""
    details = report.details or {}
    lines = [
        f"{report.rows_total} rows {utc(report.first_time)} .. {utc(report.last_time)}: "
        f"{report.rows_inserted} inserted, {report.rows_existing} already stored "
        f"({report.duration_ms} ms). Status: {report.get_status_display()}",
    ]
    lines += [f"  {line}" for line in details.get("summary", [])[1:]]
    gaps = details.get("gaps", [])
    for gap in gaps[:max_gaps]:
        lines.append(f"    gap {utc(gap['first_missing'])} .. {utc(gap['last_missing'])} "
                     f"({gap['missing_bars']} bar{'s' if gap['missing_bars'] != 1 else ''})")
    if report.gap_count > max_gaps:
        lines.append(f"    ... {report.gap_count - max_gaps} more gaps (see the admin)")
    return lines


def rejection_message(report: DataQualityReport) -> str:
    details = report.details or {}
    problems = details.get("structural", [])
    rows = details.get("structural_rows", [])
    head = f"rejected, nothing stored: {len(problems)} structural problem(s)"
    if rows:
        head += f" in rows {', '.join(map(str, rows[:30]))}" + (" ..." if len(rows) > 30 else "")
    return "\n".join([head, *(f"  {p}" for p in problems[:50])])
