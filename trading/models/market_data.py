"""Market data: exchanges, instruments, candles, funding rates and data-quality reports.

Candles are keyed (instrument, timeframe, open_time) with open_time in integer
milliseconds (bar OPEN time, UTC) — the same representation the engines use,
so reads convert straight into numpy arrays. The unique index doubles as the
index for "candles of X between A and B".
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import models


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class Exchange(models.Model):
    code = models.SlugField(max_length=40, unique=True, help_text="ccxt id, e.g. binance")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name or self.code


class Instrument(models.Model):
    class MarketType(models.TextChoices):
        SPOT = "spot", "Spot"
        PERP = "perp", "Perpetual"

    exchange = models.ForeignKey(Exchange, on_delete=models.PROTECT, related_name="instruments")
    symbol = models.CharField(max_length=40, help_text="Unified symbol, e.g. BTC/USDT")
    base = models.CharField(max_length=20)
    quote = models.CharField(max_length=20)
    market_type = models.CharField(max_length=8, choices=MarketType.choices, default=MarketType.SPOT)
    tick_size = models.DecimalField(max_digits=24, decimal_places=12, default=0)
    lot_size = models.DecimalField(max_digits=24, decimal_places=12, default=0)
    min_notional = models.DecimalField(max_digits=24, decimal_places=8, default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["exchange__code", "symbol", "market_type"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "symbol", "market_type"], name="uniq_instrument"),
        ]

    def __str__(self) -> str:
        suffix = "" if self.market_type == self.MarketType.SPOT else f" {self.market_type}"
        return f"{self.exchange.code}:{self.symbol}{suffix}"


class Candle(models.Model):
    """One closed OHLCV bar. Volume is in the base asset."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="candles")
    timeframe = models.CharField(max_length=4)
    open_time = models.BigIntegerField(help_text="Bar open time, ms since epoch (UTC)")
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    volume = models.FloatField()

    class Meta:
        ordering = ["instrument_id", "timeframe", "open_time"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "timeframe", "open_time"], name="uniq_candle"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.timeframe} {self.opened_at:%Y-%m-%d %H:%M}"

    @property
    def opened_at(self) -> datetime:
        return ms_to_datetime(self.open_time)


class FundingRate(models.Model):
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="funding_rates")
    funding_time = models.BigIntegerField(help_text="ms since epoch (UTC)")
    rate = models.FloatField()

    class Meta:
        ordering = ["instrument_id", "funding_time"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "funding_time"], name="uniq_funding"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {ms_to_datetime(self.funding_time):%Y-%m-%d %H:%M} {self.rate:+.6f}"


class DataQualityReport(models.Model):
    """What one import or backfill found. Stored for every load, accepted or rejected."""

    class Source(models.TextChoices):
        FILE = "file", "File import"
        EXCHANGE = "exchange", "Exchange backfill"
        RESAMPLE = "resample", "Resampled from a lower timeframe"

    class Status(models.TextChoices):
        OK = "ok", "OK"
        WARNINGS = "warnings", "Accepted with warnings"
        REJECTED = "rejected", "Rejected"

    instrument = models.ForeignKey(
        Instrument, null=True, blank=True, on_delete=models.CASCADE, related_name="quality_reports"
    )
    timeframe = models.CharField(max_length=4, blank=True)
    kind = models.CharField(max_length=10, default="candles", help_text="candles or funding")
    source = models.CharField(max_length=10, choices=Source.choices)
    location = models.CharField(max_length=500, blank=True, help_text="File path or exchange endpoint")
    status = models.CharField(max_length=10, choices=Status.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    rows_total = models.IntegerField(default=0)
    rows_inserted = models.IntegerField(default=0)
    rows_existing = models.IntegerField(default=0)
    first_time = models.BigIntegerField(null=True, blank=True)
    last_time = models.BigIntegerField(null=True, blank=True)
    gap_count = models.IntegerField(default=0)
    missing_bars = models.IntegerField(default=0)
    duplicates = models.IntegerField(default=0)
    non_monotonic = models.IntegerField(default=0)
    ohlc_inconsistent = models.IntegerField(default=0)
    non_positive_prices = models.IntegerField(default=0)
    negative_volume = models.IntegerField(default=0)
    zero_volume = models.IntegerField(default=0)
    outlier_returns = models.IntegerField(default=0)
    details = models.JSONField(
        default=dict, blank=True, help_text="Gap ranges, offending rows, outliers, structural errors"
    )
    duration_ms = models.IntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.instrument} {self.timeframe} {self.status}"
