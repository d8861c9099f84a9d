"""Backfilling candles through ccxt from a local server that answers like Binance."""

from __future__ import annotations

import io
import socket
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import call_command

from organism.errors import DataError, TemporaryError
from tests.fake_exchange import Fault
from tests.market_data import load_bars
from tests.trading.conftest import FAKE_NOW_MS
from trading.models import Candle, DataQualityReport, Instrument
from trading.selectors import candle_arrays
from trading.services.candles import candles_store
from trading.services.fetch import candles_fetch, fetch_windows
from trading.services.instruments import MarketSizes, instrument_get_or_create
from trading.tasks import candles_sync

pytestmark = pytest.mark.django_db
HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
CLOSED_BARS = 48  # 2024-01-01 00:00 .. 2024-01-02 23:00; 2024-01-03 00:00 is in progress


def _fetch(**kwargs):
    options = {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1h", "since_ms": T0,
               "page_limit": 20, "clock": lambda: FAKE_NOW_MS}
    return candles_fetch(**{**options, **kwargs})


def _source():
    return load_bars("BTCUSDT", "1h", start="2024-01-01", end="2024-01-04")


def _starts(fake) -> list[int]:
    return [int(r.query["startTime"]) for r in fake.klines_requests() if r.status == 200]


def test_it_backfills_across_pages_through_429_502_and_a_timeout(fake_binance, settings):
    # given the exchange answers 429 (Retry-After: 1), then 502, then hangs past the timeout
    settings.ORGANISM_CCXT_TIMEOUT_MS = 400
    fake_binance.inject("klines", Fault.rate_limit(retry_after=1), Fault.server_error(502),
                        Fault.timeout(1.0))
    seen = []
    # when
    report = _fetch(progress=lambda done, total: seen.append((done, total)))
    # then every closed bar is stored exactly as the exchange sent it, the open one is not
    instrument = Instrument.objects.get(symbol="BTC/USDT")
    stored = candle_arrays(instrument, "1h")
    source = _source()
    assert len(stored) == CLOSED_BARS
    np.testing.assert_array_equal(stored.timestamps, source.timestamps[:CLOSED_BARS])
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(stored, name), getattr(source, name)[:CLOSED_BARS])
    assert (report.status, report.rows_total, report.rows_inserted) == ("ok", 48, 48)
    assert report.details["pages"] == 3 and seen[-1] == (48, 48)
    # and the faults were really met and retried, waiting out the Retry-After
    klines = fake_binance.klines_requests()
    assert [r.status for r in klines[:2]] == [429, 502]
    assert klines[1].at - klines[0].at >= 1.0
    assert _starts(fake_binance)[-3:] == [T0, T0 + 20 * HOUR, T0 + 40 * HOUR]


def test_it_gives_up_with_a_temporary_error_when_the_exchange_stays_down(fake_binance):
    fake_binance.inject("klines", *[Fault.server_error(503)] * 5)
    with pytest.raises(TemporaryError, match="gave up after 5 attempts"):
        _fetch()
    assert Candle.objects.count() == 0
    assert [r.status for r in fake_binance.klines_requests()] == [503] * 5


@pytest.mark.parametrize("kind", ["non_numeric", "wrong_shape", "out_of_order", "not_json"])
def test_a_malformed_page_is_rejected_unstored_and_the_next_run_resumes(fake_binance, kind):
    # given the second page comes back malformed
    fake_binance.inject("klines", Fault.ok(), Fault.bad_page(kind))
    # when
    with pytest.raises(DataError, match="malformed page"):
        _fetch()
    # then the first page is kept, the bad one is not, and a rejected report says why
    assert Candle.objects.count() == 20
    rejected = DataQualityReport.objects.get()
    assert (rejected.status, rejected.rows_inserted) == ("rejected", 20)
    assert rejected.details["rejected_page"]["after_pages"] == 1
    expected = {"non_numeric": "is not a number", "wrong_shape": "expected at least 6",
                "out_of_order": "out of order", "not_json": "not JSON"}[kind]
    assert expected in rejected.details["rejected_page"]["problems"][0]
    # when the backfill runs again
    report = _fetch()
    # then it resumes after the last stored candle and completes
    assert _starts(fake_binance)[-2:] == [T0 + 20 * HOUR, T0 + 40 * HOUR]
    assert (report.status, report.rows_inserted) == ("ok", 28)
    assert Candle.objects.count() == CLOSED_BARS


def test_it_resumes_from_the_last_stored_candle(fake_binance):
    # given the first 10 bars are already stored
    instrument = instrument_get_or_create(exchange="binance", symbol="BTC/USDT")
    source = _source()
    rows = [[int(source.timestamps[i]), source.open[i], source.high[i], source.low[i],
             source.close[i], source.volume[i]] for i in range(10)]
    candles_store(instrument=instrument, timeframe="1h", rows=rows)
    # when
    report = _fetch()
    # then the first request starts at the 11th bar
    assert _starts(fake_binance)[0] == T0 + 10 * HOUR
    assert (report.rows_total, report.rows_inserted, report.rows_existing) == (38, 38, 0)
    assert report.gap_count == 0
    # and a second run finds nothing new, without asking for candles
    requests = len(fake_binance.klines_requests())
    assert _fetch().pk is None
    assert len(fake_binance.klines_requests()) == requests


def test_pages_are_spaced_by_the_exchange_rate_limit(fake_binance):
    # when five pages are fetched (binance spot klines: rateLimit 50 ms x cost 0.4 = 20 ms;
    # unthrottled, a local server answers in a few ms)
    _fetch(page_limit=10)
    # then ccxt's limiter spaced the requests
    times = [r.at for r in fake_binance.klines_requests()]
    assert len(times) == 5
    assert (times[-1] - times[0]) / 4 >= 0.018


def test_a_perpetual_is_fetched_from_the_futures_api(fake_binance):
    # given the fake serves the perpetual's own candles
    perp = _source()
    fake_binance.serve_candles("BTCUSDT", perp, perp=True)
    # when
    report = _fetch(market_type="perp", until_ms=T0 + 10 * HOUR)
    # then
    instrument = Instrument.objects.get(market_type="perp")
    assert (instrument.symbol, report.rows_inserted) == ("BTC/USDT", 10)
    assert "/fapi/v1" in report.location and str(instrument.tick_size.normalize()) == "0.01"
    assert {r.path for r in fake_binance.requests} == {"/fapi/v1/exchangeInfo", "/fapi/v1/klines"}


def test_the_windows_skip_what_is_stored(db):
    instrument = instrument_get_or_create(exchange="binance", symbol="BTC/USDT")
    rows = [[T0 + i * HOUR, 1.0, 2.0, 0.5, 1.5, 1.0] for i in range(10, 20)]
    candles_store(instrument=instrument, timeframe="1h", rows=rows)
    end = T0 + 48 * HOUR
    assert fetch_windows(instrument, "1h", T0, end) == [(T0, T0 + 10 * HOUR),
                                                        (T0 + 20 * HOUR, end)]
    assert fetch_windows(instrument, "1h", None, end) == [(T0 + 20 * HOUR, end)]
    assert fetch_windows(instrument, "1h", T0 + 15 * HOUR + 1, end) == [(T0 + 20 * HOUR, end)]
    with pytest.raises(ValueError, match="give a start"):
        fetch_windows(instrument_get_or_create(exchange="binance", symbol="ETH/USDT"), "1h",
                      None, end)


def test_the_instrument_gets_the_exchange_tick_and_lot_sizes(fake_binance):
    _fetch(until_ms=T0 + 5 * HOUR)
    instrument = Instrument.objects.get()
    assert (str(instrument.tick_size.normalize()), str(instrument.lot_size.normalize()),
            str(instrument.min_notional.normalize())) == ("0.01", "0.00001", "5")


def test_without_a_market_list_the_instrument_is_created_with_unknown_sizes(fake_binance):
    # given exchangeInfo fails every attempt of the first load
    fake_binance.inject("exchangeInfo", *[Fault.server_error(502)] * 5)
    # when
    report = _fetch(until_ms=T0 + 5 * HOUR)
    # then candles still arrive; sizes stay unknown (0) until a later backfill
    instrument = Instrument.objects.get()
    assert instrument.tick_size == 0 and report.rows_inserted == 5


def test_an_unknown_symbol_is_refused_before_anything_is_stored(fake_binance):
    with pytest.raises(ValueError, match="not a market"):
        _fetch(symbol="DOGE/USDT")
    assert Instrument.objects.count() == 0


def test_the_fetch_command_backfills_then_reports_up_to_date(fake_binance):
    args = ["candles_fetch", "--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe", "1h",
            "--since", "2024-01-01", "--until", "2024-01-02T12:00"]
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    assert "36 rows 2024-01-01 00:00 UTC .. 2024-01-02 11:00 UTC: 36 inserted" in out.getvalue()
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    assert "Up to date" in out.getvalue()


def _import_first_40_hours():
    instrument = instrument_get_or_create(exchange="binance", symbol="BTC/USDT",
                                          sizes=MarketSizes(Decimal("0.01"), Decimal("0.00001")))
    source = _source()
    rows = [[int(source.timestamps[i]), *(float(getattr(source, n)[i])
             for n in ("open", "high", "low", "close", "volume"))] for i in range(40)]
    candles_store(instrument=instrument, timeframe="1h", rows=rows)
    DataQualityReport.objects.create(instrument=instrument, timeframe="1h", source="file",
                                     status="ok", rows_total=40, rows_inserted=40)
    return instrument


def test_the_sync_task_fetches_new_closed_candles(fake_binance):
    # given 40 stored hours and an exchange whose clock is at 2024-01-04 00:00
    fake_binance.now_ms = T0 + 72 * HOUR
    instrument = _import_first_40_hours()
    # when
    result = candles_sync.apply().get()
    # then
    assert result["outcomes"] == [{"instrument_id": instrument.pk, "timeframe": "1h",
                                   "status": "ok", "inserted": 32, "message": ""}]
    assert Candle.objects.count() == 72


def test_the_sync_task_survives_an_offline_exchange(settings):
    # given an exchange URL nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.ORGANISM_EXCHANGE_URLS = f"http://127.0.0.1:{port}"
    settings.ORGANISM_FETCH_RETRY_ATTEMPTS = 2
    settings.ORGANISM_FETCH_RETRY_BASE_S = 0.001
    settings.ORGANISM_FETCH_RETRY_MAX_S = 0.002
    instrument = _import_first_40_hours()
    # when
    result = candles_sync.apply().get()
    # then it retried, logged and returned instead of failing
    [outcome] = result["outcomes"]
    assert (outcome["instrument_id"], outcome["status"]) == (instrument.pk, "temporary_error")
    assert Candle.objects.count() == 40
