"""Importing candle and funding files into the database (PostgreSQL COPY in CI)."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pandas as pd
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.core.management import CommandError, call_command

from organism.errors import DataError
from organism.realtime import group_for_instrument, group_markets, validate_event
from tests.market_data import data_dir, load_bars, load_funding
from trading.models import Candle, DataQualityReport, FundingRate, Instrument
from trading.selectors import candle_arrays
from trading.services.candles import candles_import, candles_store, funding_import
from trading.services.instruments import instrument_get_or_create

pytestmark = pytest.mark.django_db
BTC_1H = data_dir() / "binance_btcusdt_1h.csv.gz"
HOUR = 3_600_000


def _small_csv(tmp_path, rows: int = 48, name: str = "btc.csv"):
    bars = load_bars("BTCUSDT", "1h", start="2024-01-01", limit=rows)
    frame = pd.DataFrame({"timestamp": bars.timestamps, "open": bars.open, "high": bars.high,
                          "low": bars.low, "close": bars.close, "volume": bars.volume})
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path, frame


def test_it_imports_the_real_btc_file_exactly_and_a_second_import_changes_nothing():
    # when the real 73,265-row file is imported
    report = candles_import(path=BTC_1H, exchange="binance", symbol="BTC/USDT", timeframe="1h")
    # then every row is stored as given, with the documented quality findings
    assert (report.status, report.rows_total, report.rows_inserted, report.rows_existing) == (
        "warnings", 73_265, 73_265, 0)
    assert (report.gap_count, report.missing_bars, report.zero_volume) == (27, 122, 3)
    assert (report.duplicates, report.ohlc_inconsistent, report.non_positive_prices) == (0, 0, 0)
    assert len(report.details["gaps"]) == 27
    instrument = Instrument.objects.get(symbol="BTC/USDT", market_type="spot")
    stored = candle_arrays(instrument, "1h")
    expected = load_bars("BTCUSDT", "1h")
    np.testing.assert_array_equal(stored.timestamps, expected.timestamps)
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(stored, name), getattr(expected, name))
    # when it is imported again
    again = candles_import(path=BTC_1H, exchange="binance", symbol="BTC/USDT", timeframe="1h")
    # then nothing changes and the second report says all rows already existed
    assert (again.rows_inserted, again.rows_existing) == (0, 73_265)
    assert Candle.objects.count() == 73_265
    assert DataQualityReport.objects.count() == 2


def test_a_structurally_broken_file_writes_nothing_but_a_rejected_report(tmp_path):
    # given a file whose rows 3 and 5 cannot be read
    path, frame = _small_csv(tmp_path, rows=6)
    text = path.read_text().splitlines()
    text[3] = text[3].replace(text[3].split(",")[4], "n/a")  # data row 3, close
    text[5] = ",".join(text[5].split(",")[:5]) + ","  # data row 5, empty volume
    path.write_text("\n".join(text) + "\n")
    # when
    report = candles_import(path=path, exchange="binance", symbol="BTC/USDT", timeframe="1h")
    # then
    assert report.status == "rejected"
    assert report.details["structural_rows"] == [3, 5]
    assert report.instrument is None
    assert Candle.objects.count() == 0 and Instrument.objects.count() == 0
    # and the command fails naming the rows
    with pytest.raises(CommandError, match=r"rows 3, 5"):
        call_command("candles_import", str(path), "--exchange", "binance", "--symbol", "BTC/USDT",
                     "--timeframe", "1h", stdout=io.StringIO(), stderr=io.StringIO())
    assert Candle.objects.count() == 0


def test_the_command_imports_parquet_and_prints_the_quality_summary(tmp_path):
    # given a Parquet file with a 3-hour gap after row 10
    _, frame = _small_csv(tmp_path, rows=30)
    frame = frame.drop(index=[10, 11, 12])
    path = tmp_path / "btc.parquet"
    frame.to_parquet(path)
    out, err = io.StringIO(), io.StringIO()
    # when
    call_command("candles_import", str(path), "--exchange", "binance", "--symbol", "BTC/USDT",
                 "--timeframe", "1h", stdout=out, stderr=err)
    # then
    assert "27 rows" in out.getvalue() and "27 inserted" in out.getvalue()
    assert "1 gaps (3 missing bars)" in out.getvalue()
    assert "gap 2024-01-01 10:00 UTC .. 2024-01-01 12:00 UTC (3 bars)" in out.getvalue()
    assert "100%" in err.getvalue()  # the progress bar ran to the end
    report = DataQualityReport.objects.get()
    assert report.details["file_format"] == "parquet"
    assert Candle.objects.filter(timeframe="1h").count() == 27


def test_identical_duplicate_rows_are_stored_once_and_reported(tmp_path):
    _, frame = _small_csv(tmp_path, rows=10)
    frame = pd.concat([frame, frame.iloc[[4]]], ignore_index=True)
    path = tmp_path / "dup.csv"
    frame.to_csv(path, index=False)
    report = candles_import(path=path, exchange="binance", symbol="BTC/USDT", timeframe="1h")
    assert (report.rows_total, report.rows_inserted, report.duplicates) == (11, 10, 1)
    assert report.details["duplicate_rows"] == [11]
    assert Candle.objects.count() == 10


def test_funding_rates_go_to_the_perpetual_and_reimport_is_idempotent():
    path = data_dir() / "binance_btcusdt_perp_funding_8h.csv.gz"
    # when
    report = funding_import(path=path, exchange="binance", symbol="BTC/USDT")
    again = funding_import(path=path, exchange="binance", symbol="BTC/USDT")
    # then
    perp = Instrument.objects.get(symbol="BTC/USDT", market_type="perp")
    assert (report.kind, report.status, report.rows_inserted) == ("funding", "ok", 7_323)
    assert (again.rows_inserted, again.rows_existing) == (0, 7_323)
    ts, rates = load_funding("BTCUSDT")
    stored = list(FundingRate.objects.filter(instrument=perp).values_list("funding_time", "rate"))
    assert [t for t, _ in stored] == ts.tolist() and [r for _, r in stored] == rates.tolist()


def test_the_funding_command(tmp_path):
    path = tmp_path / "funding.csv"
    path.write_text("timestamp,funding_rate\n1704067200000,0.0001\n1704096000000,-0.0002\n")
    out = io.StringIO()
    call_command("funding_import", str(path), "--exchange", "binance", "--symbol", "ETH/USDT",
                 stdout=out, stderr=io.StringIO())
    assert "2 inserted" in out.getvalue()
    assert FundingRate.objects.filter(instrument__market_type="perp").count() == 2


def _store(instrument, rows):
    candles_store(instrument=instrument, timeframe="1h", rows=rows)


@pytest.mark.django_db(transaction=True)
def test_storing_the_newest_candle_publishes_candle_stored_after_commit():
    instrument = instrument_get_or_create(exchange="binance", symbol="BTC/USDT")
    newest = [1_704_070_800_000, 42475.23, 42775.0, 42431.65, 42613.56, 1196.37856]
    older = [1_704_067_200_000, 42283.58, 42554.57, 42261.02, 42475.23, 1271.68108]

    async def scenario():
        # given channels listening to the markets group and the instrument's group
        layer = get_channel_layer()
        markets, own = await layer.new_channel(), await layer.new_channel()
        await layer.group_add(group_markets(), markets)
        await layer.group_add(group_for_instrument(instrument.pk), own)
        # when the newest candle is stored, then an older one is back-filled
        await sync_to_async(_store)(instrument, [newest])
        first = await asyncio.wait_for(layer.receive(markets), 3)
        on_instrument = await asyncio.wait_for(layer.receive(own), 3)
        await sync_to_async(_store)(instrument, [older])
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(markets), 0.5)
        await layer.group_discard(group_markets(), markets)
        await layer.group_discard(group_for_instrument(instrument.pk), own)
        return first, on_instrument

    first, on_instrument = async_to_sync(scenario)()
    # then one event per group, for the newest candle only, matching the schema
    assert first["event"] == "candle.stored"
    validate_event("candle.stored", first["payload"])
    assert first["payload"]["open_time"] == newest[0] and first["payload"]["close"] == newest[4]
    assert on_instrument["payload"] == first["payload"]


def test_candles_store_rejects_malformed_rows_without_storing():
    instrument = instrument_get_or_create(exchange="binance", symbol="BTC/USDT")
    good = [1_704_067_200_000, 1.0, 2.0, 0.5, 1.5, 3.0]
    with pytest.raises(DataError, match="row 2"):
        candles_store(instrument=instrument, timeframe="1h", rows=[good, [1, 2, 3]])
    with pytest.raises(DataError, match="missing value"):
        candles_store(instrument=instrument, timeframe="1h",
                      rows=[good, [good[0] + HOUR, 1.0, None, 0.5, 1.5, 3.0]])
    assert Candle.objects.count() == 0


def test_resampling_stored_1h_candles_to_4h(tmp_path):
    # given two days of 1h candles starting at 01:00 (the first 4h bar is partial)
    _, frame = _small_csv(tmp_path, rows=48)
    path = tmp_path / "from1.csv"
    frame.iloc[1:].to_csv(path, index=False)
    candles_import(path=path, exchange="binance", symbol="BTC/USDT", timeframe="1h")
    out = io.StringIO()
    # when
    call_command("candles_resample", "--symbol", "BTC/USDT", "--from", "1h", "--to", "4h",
                 stdout=out)
    # then
    instrument = Instrument.objects.get()
    four_hour = candle_arrays(instrument, "4h")
    assert len(four_hour) == 11 and four_hour.timestamps[0] == frame["timestamp"][4]
    assert four_hour.high[0] == frame["high"][4:8].max()
    report = DataQualityReport.objects.get(source="resample")
    assert (report.timeframe, report.rows_inserted) == ("4h", 11)
    assert report.details["dropped_edge_bars"][0]["present"] == 3
    assert "1 partial edge bar(s) dropped" in out.getvalue()
