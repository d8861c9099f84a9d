"""factory_boy factories for database-backed tests (shared: add yours here).

`candles_create` bulk-inserts a `Bars` (real data from tests.market_data or
synthetic from `synthetic_bars`) for one instrument and timeframe.
"""

from __future__ import annotations

from datetime import UTC, datetime

import factory
import numpy as np
from django.db import connection

from trading.engine.market import Bars, timeframe_ms
from trading.models import Candle, DataQualityReport, Exchange, Instrument


class ExchangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exchange
        django_get_or_create = ("code",)

    code = "binance"
    name = "Binance"


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument

    exchange = factory.SubFactory(ExchangeFactory)
    base = factory.Sequence(lambda n: f"C{n}")
    quote = "USDT"
    symbol = factory.LazyAttribute(lambda o: f"{o.base}/{o.quote}")
    market_type = Instrument.MarketType.SPOT
    tick_size = 0.01
    lot_size = 0.00001


class CandleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Candle

    instrument = factory.SubFactory(InstrumentFactory)
    timeframe = "1h"
    open_time = factory.Sequence(lambda n: 1_704_067_200_000 + n * 3_600_000)  # from 2024-01-01
    open = 100.0
    high = 101.0
    low = 99.0
    close = 100.5
    volume = 10.0


class DataQualityReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataQualityReport

    instrument = factory.SubFactory(InstrumentFactory)
    timeframe = "1h"
    kind = "candles"
    source = DataQualityReport.Source.FILE
    location = "/data/binance_btcusdt_1h.csv.gz"
    status = DataQualityReport.Status.WARNINGS
    rows_total = 100
    rows_inserted = 100
    gap_count = 2
    missing_bars = 5
    zero_volume = 3
    details = factory.LazyFunction(lambda: {"gaps": [[1_704_067_200_000, 1_704_085_200_000]]})


def synthetic_bars(
    n: int, *, timeframe: str = "1h", start_ms: int = 1_704_067_200_000, seed: int = 7
) -> Bars:
    """A random-walk market with consistent OHLC (high >= max(open, close) etc.)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0, 0.004, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.uniform(1, 100, n)
    timestamps = start_ms + np.arange(n, dtype=np.int64) * timeframe_ms(timeframe)
    return Bars.from_arrays(timestamps, open_, high, low, close, volume, timeframe=timeframe)


def candles_create(instrument: Instrument, bars: Bars, *, batch_size: int = 10_000) -> int:
    """Store `bars` as candles of `instrument` (timeframe taken from the bars).

    PostgreSQL gets COPY (73k bars in well under a second); other databases bulk_create.
    """
    rows = list(
        zip(
            bars.timestamps.tolist(),
            bars.open.tolist(),
            bars.high.tolist(),
            bars.low.tolist(),
            bars.close.tolist(),
            bars.volume.tolist(),
            strict=True,
        )
    )
    if connection.vendor == "postgresql":
        columns = "instrument_id, timeframe, open_time, open, high, low, close, volume"
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {Candle._meta.db_table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row((instrument.pk, bars.timeframe, *row))
        return len(rows)
    candles = [
        Candle(
            instrument=instrument,
            timeframe=bars.timeframe,
            open_time=t,
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=v,
        )
        for t, o, h, lo, c, v in rows
    ]
    Candle.objects.bulk_create(candles, batch_size=batch_size)
    return len(candles)


# --- backtests ---------------------------------------------------------------------------------
class BacktestSessionFactory(factory.django.DjangoModelFactory):
    """A session as stored; give `instruments=[...]` to attach instruments."""

    class Meta:
        model = "backtests.BacktestSession"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"backtest {n}")
    strategy = "sma_crossover"
    params = factory.LazyFunction(lambda: {"fast": 10, "slow": 30})
    timeframe = "1h"
    start = factory.LazyFunction(lambda: datetime(2022, 1, 1, tzinfo=UTC))
    end = factory.LazyFunction(lambda: datetime(2023, 1, 1, tzinfo=UTC))
    costs = factory.LazyFunction(
        lambda: {"maker_fee": 0.0002, "taker_fee": 0.0005, "slippage": 0.0005})
    sizing = factory.LazyFunction(lambda: {"mode": "fraction", "value": 1.0, "granularity": None})
    options = factory.LazyFunction(dict)

    @factory.post_generation
    def instruments(self, create, extracted, **kwargs):
        if create and extracted:
            self.instruments.set(extracted)


class BacktestResultFactory(factory.django.DjangoModelFactory):
    """A stored result with the given statistics (sections as `backtest_report` writes them)."""

    class Meta:
        model = "backtests.BacktestResult"

    session = factory.SubFactory(BacktestSessionFactory, status="completed", progress=1.0)
    statistics = factory.LazyFunction(dict)
    equity = factory.LazyFunction(
        lambda: {"timestamps": [1_640_995_200_000, 1_640_998_800_000], "equity": [10_000.0,
                 10_100.0], "benchmark": [10_000.0, 10_050.0], "drawdown": [0.0, 0.0],
                 "initial_cash": 10_000.0, "points": 2, "source_points": 2})


# --- evolution ---------------------------------------------------------------------------------
def funding_rates_create(instrument: Instrument, timestamps: np.ndarray, rates: np.ndarray) -> int:
    """Store funding rates (ms timestamps, rates) on `instrument` (a perpetual)."""
    from trading.models import FundingRate

    rows = [FundingRate(instrument=instrument, funding_time=int(t), rate=float(r))
            for t, r in zip(timestamps.tolist(), rates.tolist(), strict=True)]
    FundingRate.objects.bulk_create(rows, batch_size=5_000)
    return len(rows)
