"""Admin for market data: exchanges and instruments are editable; candles, funding
rates and quality reports are read-only records of what was loaded."""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from trading.models import (
    Candle,
    DataQualityReport,
    Exchange,
    FundingRate,
    Instrument,
    ms_to_datetime,
)


def _utc(ms: int | None) -> str:
    return "-" if ms is None else f"{ms_to_datetime(ms):%Y-%m-%d %H:%M} UTC"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Browse only: records of loads are changed by services, never by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EstimatedCountPaginator(Paginator):
    """Unfiltered lists of a huge table use PostgreSQL's row estimate instead of COUNT(*)."""

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if connection.vendor == "postgresql" and query is not None and not query.where:
            table = self.object_list.model._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
                row = cursor.fetchone()
            if row and row[0] > 100_000:
                return int(row[0])
        return super().count


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["symbol", "exchange", "market_type", "base", "quote", "tick_size",
                    "lot_size", "min_notional", "active"]
    list_filter = ["exchange", "market_type", "active"]
    search_fields = ["symbol", "base", "quote"]
    list_editable = ["active"]


@admin.register(Candle)
class CandleAdmin(ReadOnlyAdmin):
    list_display = ["instrument", "timeframe", "opened", "open", "high", "low", "close", "volume"]
    list_filter = ["instrument", "timeframe"]
    list_select_related = ["instrument__exchange"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 100
    # all descending: newest first, read backwards along the unique index (no sort)
    ordering = ["-instrument_id", "-timeframe", "-open_time"]

    @admin.display(description="Open time (UTC)", ordering="open_time")
    def opened(self, obj: Candle) -> str:
        return _utc(obj.open_time)


@admin.register(FundingRate)
class FundingRateAdmin(ReadOnlyAdmin):
    list_display = ["instrument", "funding", "rate"]
    list_filter = ["instrument"]
    list_select_related = ["instrument__exchange"]
    show_full_result_count = False
    ordering = ["-instrument_id", "-funding_time"]

    @admin.display(description="Funding time (UTC)", ordering="funding_time")
    def funding(self, obj: FundingRate) -> str:
        return _utc(obj.funding_time)


@admin.register(DataQualityReport)
class DataQualityReportAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "instrument", "timeframe", "kind", "source", "status_badge",
                    "rows_total", "rows_inserted", "rows_existing", "gap_count", "missing_bars",
                    "problem_count"]
    list_filter = ["status", "source", "kind", "timeframe", "instrument"]
    list_select_related = ["instrument__exchange"]
    date_hierarchy = "created_at"
    fields = ["instrument", "timeframe", "kind", "source", "location", "status_badge",
              "created_at", "duration_ms", "rows_total", "rows_inserted", "rows_existing",
              "covered", "summary", "structural_problems", "gap_ranges", "counts", "outliers"]
    readonly_fields = fields

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: DataQualityReport) -> str:
        colour = {"ok": "#2e7d32", "warnings": "#b26a00", "rejected": "#c62828"}[obj.status]
        return format_html('<strong style="color:{}">{}</strong>', colour,
                           obj.get_status_display())

    @admin.display(description="Problems")
    def problem_count(self, obj: DataQualityReport) -> int:
        return (obj.duplicates + obj.non_monotonic + obj.ohlc_inconsistent
                + obj.non_positive_prices + obj.negative_volume + obj.zero_volume
                + obj.outlier_returns + len((obj.details or {}).get("structural", [])))

    @admin.display(description="Range")
    def covered(self, obj: DataQualityReport) -> str:
        return f"{_utc(obj.first_time)} .. {_utc(obj.last_time)}"

    @admin.display(description="Summary")
    def summary(self, obj: DataQualityReport) -> str:
        lines = (obj.details or {}).get("summary", [])
        return format_html_join("", "<div>{}</div>", ((line,) for line in lines)) or "-"

    @admin.display(description="Structural problems (rejected rows)")
    def structural_problems(self, obj: DataQualityReport) -> str:
        problems = (obj.details or {}).get("structural", [])
        return format_html_join("", "<div><code>{}</code></div>", ((p,) for p in problems)) or "-"

    @admin.display(description="Gaps")
    def gap_ranges(self, obj: DataQualityReport) -> str:
        gaps = (obj.details or {}).get("gaps", [])
        if not gaps:
            return "-"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((_utc(g["first_missing"]), _utc(g["last_missing"]), g["missing_bars"]) for g in gaps),
        )
        return format_html("<table><tr><th>First missing bar</th><th>Last missing bar</th>"
                           "<th>Bars</th></tr>{}</table>", rows)

    @admin.display(description="Findings")
    def counts(self, obj: DataQualityReport) -> str:
        details = obj.details or {}
        items = [
            ("Duplicate rows", obj.duplicates, details.get("duplicate_rows")),
            ("Out-of-order rows", obj.non_monotonic, details.get("non_monotonic_rows")),
            ("OHLC inconsistent", obj.ohlc_inconsistent, details.get("ohlc_inconsistent_rows")),
            ("Non-positive prices", obj.non_positive_prices,
             details.get("non_positive_price_rows")),
            ("Negative volume", obj.negative_volume, details.get("negative_volume_rows")),
            ("Zero volume", obj.zero_volume, details.get("zero_volume_rows")),
        ]
        return format_html_join(
            "", "<div>{}: <strong>{}</strong> <small>{}</small></div>",
            ((label, count, _row_list(rows)) for label, count, rows in items),
        )

    @admin.display(description="Outlier returns")
    def outliers(self, obj: DataQualityReport) -> str:
        outliers = (obj.details or {}).get("outliers", [])
        if not outliers:
            return "-"
        return format_html_join(
            "", "<div>{} (row {}): log return {} (threshold {})</div>",
            ((_utc(o["open_time"]), o["row"], f"{o['log_return']:+.4f}",
              f"{o['threshold']:.4f}") for o in outliers),
        )


def _row_list(rows: list[int] | None) -> str:
    if not rows:
        return ""
    shown = ", ".join(map(str, rows[:20]))
    return f"rows {shown}" + (" ..." if len(rows) > 20 else "")


# Trading sessions, exchange accounts, parameter sets and the journal register themselves here.
from trading import admin_sessions  # noqa: E402, F401
