"""Market-data REST API: instruments, candles, indicators, quality reports."""

from __future__ import annotations

import numpy as np
import pytest
import talib

from tests.factories import (
    DataQualityReportFactory,
    InstrumentFactory,
    candles_create,
    synthetic_bars,
)

pytestmark = pytest.mark.django_db



JAN_1_2024 = 1_704_067_200_000
HOUR = 3_600_000
BARS = 300


@pytest.fixture
def btc():
    instrument = InstrumentFactory(base="BTC", symbol="BTC/USDT")
    candles_create(instrument, synthetic_bars(BARS, start_ms=JAN_1_2024))
    return instrument


# --- authentication --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/instruments",
        "/api/v1/instruments/1",
        "/api/v1/candles?instrument_id=1&timeframe=1h",
        "/api/v1/indicators?instrument_id=1&timeframe=1h&names=sma:20",
        "/api/v1/quality-reports",
        "/api/v1/quality-reports/1",
        "/api/v1/indicators/catalog",
    ],
)
def test_it_requires_a_token(client, path):
    assert client.get(path).status_code == 401
    assert client.get(path, HTTP_AUTHORIZATION="Bearer not-a-token").status_code == 401


def test_it_documents_every_endpoint_in_openapi(api_client):
    paths = api_client.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/instruments",
        "/api/v1/instruments/{instrument_id}",
        "/api/v1/candles",
        "/api/v1/indicators",
        "/api/v1/indicators/catalog",
        "/api/v1/quality-reports",
        "/api/v1/quality-reports/{report_id}",
    ):
        assert path in paths
    params = {p["name"] for p in paths["/api/v1/candles"]["get"]["parameters"]}
    assert params == {"instrument_id", "timeframe", "start", "end", "limit"}
    assert {"200", "404", "422"} <= set(paths["/api/v1/candles"]["get"]["responses"])


# --- instruments -----------------------------------------------------------------------------
def test_it_lists_instruments_with_coverage(api_client, btc):
    # given
    candles_create(btc, synthetic_bars(12, timeframe="4h", start_ms=JAN_1_2024))
    # when
    body = api_client.get("/api/v1/instruments").json()
    # then
    assert [i["symbol"] for i in body] == ["BTC/USDT"]
    coverage = {c["timeframe"]: c for c in body[0]["coverage"]}
    assert coverage["1h"]["bars"] == BARS and coverage["4h"]["bars"] == 12
    assert coverage["1h"]["first_open_time"] == JAN_1_2024
    assert coverage["1h"]["last_open_time"] == JAN_1_2024 + (BARS - 1) * HOUR
    assert coverage["1h"]["first"].startswith("2024-01-01T00:00:00")


def test_it_returns_one_instrument_or_404(api_client, btc):
    assert api_client.get(f"/api/v1/instruments/{btc.pk}").json()["exchange"] == "binance"
    assert api_client.get(f"/api/v1/instruments/{btc.pk + 1000}").status_code == 404


# --- candles ---------------------------------------------------------------------------------
def test_it_returns_candles_of_a_range_given_in_iso(api_client, btc):
    # when
    response = api_client.get(
        f"/api/v1/candles?instrument_id={btc.pk}&timeframe=1h&start=2024-01-02&end=2024-01-02T06:00:00Z"
    )
    # then
    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 6 and body["next_start"] is None
    first = body["candles"][0]
    bars = synthetic_bars(BARS, start_ms=JAN_1_2024)
    assert first["open_time"] == JAN_1_2024 + 24 * HOUR
    assert (first["open"], first["high"], first["low"], first["close"]) == (
        bars.open[24],
        bars.high[24],
        bars.low[24],
        bars.close[24],
    )
    assert first["time"].startswith("2024-01-02T00:00:00")


def test_it_accepts_epoch_milliseconds_and_pages_with_next_start(api_client, btc):
    # given
    start = JAN_1_2024 + 10 * HOUR
    # when
    page = api_client.get(
        f"/api/v1/candles?instrument_id={btc.pk}&timeframe=1h&start={start}&limit=100"
    ).json()
    rest = api_client.get(
        f"/api/v1/candles?instrument_id={btc.pk}&timeframe=1h&start={page['next_start']}&limit=1000"
    ).json()
    # then
    assert page["count"] == 100 and page["next_start"] == start + 100 * HOUR
    assert rest["count"] == BARS - 110 and rest["next_start"] is None
    times = [c["open_time"] for c in page["candles"] + rest["candles"]]
    assert times == list(range(start, JAN_1_2024 + BARS * HOUR, HOUR))


def test_it_defaults_to_the_newest_candles(api_client, btc):
    body = api_client.get(f"/api/v1/candles?instrument_id={btc.pk}&timeframe=1h&limit=5").json()
    assert [c["open_time"] for c in body["candles"]] == [
        JAN_1_2024 + i * HOUR for i in range(BARS - 5, BARS)
    ]


def test_it_answers_an_empty_page_for_a_timeframe_without_candles(api_client, btc):
    body = api_client.get(f"/api/v1/candles?instrument_id={btc.pk}&timeframe=1d").json()
    assert body["count"] == 0 and body["candles"] == []


def test_it_answers_404_for_an_unknown_instrument(api_client):
    response = api_client.get("/api/v1/candles?instrument_id=424242&timeframe=1h")
    assert response.status_code == 404


# --- indicators ------------------------------------------------------------------------------
def test_it_computes_indicators_matching_talib_with_warm_up_before_the_range(api_client, btc):
    # given: a range that starts after 200 bars, so warm-up comes from bars before it
    bars = synthetic_bars(BARS, start_ms=JAN_1_2024)
    start = JAN_1_2024 + 200 * HOUR
    # when
    response = api_client.get(
        f"/api/v1/indicators?instrument_id={btc.pk}&timeframe=1h&start={start}"
        "&names=sma:20,rsi:14,bollinger:20:2,macd"
    )
    # then
    body = response.json()
    assert response.status_code == 200
    assert body["timestamps"] == [int(t) for t in bars.timestamps[200:]]
    series = {(s["key"], s["output"]): np.array(s["values"], dtype=float) for s in body["series"]}
    np.testing.assert_allclose(
        series[("sma:20", "value")], talib.SMA(bars.close, 20)[200:], rtol=1e-9
    )
    np.testing.assert_allclose(
        series[("rsi:14", "value")], talib.RSI(bars.close, 14)[200:], rtol=1e-9
    )
    upper, _, lower = talib.BBANDS(bars.close, 20, 2, 2)
    np.testing.assert_allclose(series[("bollinger:20:2", "upper")], upper[200:], rtol=1e-9)
    np.testing.assert_allclose(series[("bollinger:20:2", "lower")], lower[200:], rtol=1e-9)
    macd, signal, hist = talib.MACD(bars.close, 12, 26, 9)
    np.testing.assert_allclose(series[("macd:12:26:9", "signal")], signal[200:], rtol=1e-8)
    assert {s["key"]: s["params"] for s in body["series"]}["bollinger:20:2"] == {"n": 20, "k": 2.0}


def test_it_reports_warm_up_values_as_null(api_client, btc):
    body = api_client.get(
        f"/api/v1/indicators?instrument_id={btc.pk}&timeframe=1h&start={JAN_1_2024}&limit=30&names=sma:20"
    ).json()
    values = body["series"][0]["values"]
    assert values[:19] == [None] * 19 and all(v is not None for v in values[19:])
    assert body["count"] == 30 and body["next_start"] == JAN_1_2024 + 30 * HOUR


def test_it_lists_the_indicator_catalog(api_client):
    catalog = {i["name"]: i for i in api_client.get("/api/v1/indicators/catalog").json()}
    assert {"sma", "ema", "rsi", "macd", "bollinger", "donchian", "vwap", "atr"} <= set(catalog)
    assert [p["name"] for p in catalog["macd"]["params"]] == ["fast", "slow", "signal"]


# --- quality reports -------------------------------------------------------------------------
def test_it_lists_and_shows_quality_reports(api_client, btc):
    # given
    older = DataQualityReportFactory(instrument=btc, status="ok")
    newer = DataQualityReportFactory(instrument=btc, gap_count=3, missing_bars=9)
    DataQualityReportFactory()  # another instrument
    # when
    listed = api_client.get(f"/api/v1/quality-reports?instrument_id={btc.pk}").json()
    detail = api_client.get(f"/api/v1/quality-reports/{newer.pk}").json()
    # then
    assert [r["id"] for r in listed] == [newer.pk, older.pk]
    assert "details" not in listed[0]
    assert detail["gap_count"] == 3 and detail["missing_bars"] == 9
    assert detail["details"] == {"gaps": [[1_704_067_200_000, 1_704_085_200_000]]}
    assert api_client.get("/api/v1/quality-reports/987654").status_code == 404
    assert api_client.get("/api/v1/quality-reports?instrument_id=987654").status_code == 404


# --- bad input: 422 with field details, never 500 ---------------------------------------------
BAD_QUERIES = [
    ("candles", "instrument_id=abc&timeframe=1h", "instrument_id"),
    ("candles", "instrument_id=1.5&timeframe=1h", "instrument_id"),
    ("candles", "instrument_id=-3&timeframe=1h", "instrument_id"),
    ("candles", "instrument_id=99999999999999999999999999&timeframe=1h", "instrument_id"),
    ("candles", "timeframe=1h", "instrument_id"),
    ("candles", "instrument_id={id}&timeframe=2h", "timeframe"),
    ("candles", "instrument_id={id}&timeframe=", "timeframe"),
    ("candles", "instrument_id={id}&timeframe=1h&start=yesterday", "start"),
    ("candles", "instrument_id={id}&timeframe=1h&start=2024-13-45", "start"),
    ("candles", "instrument_id={id}&timeframe=1h&end=1e30", "end"),
    ("candles", "instrument_id={id}&timeframe=1h&start=-5", "start"),
    ("candles", "instrument_id={id}&timeframe=1h&start=0001-01-01", "start"),
    ("candles", "instrument_id={id}&timeframe=1h&end=9999-12-31T23:59:59", "end"),
    ("candles", "instrument_id={id}&timeframe=1h&start=999999999999999999999999", "start"),
    ("candles", "instrument_id={id}&timeframe=1h&start=2024-02-01&end=2024-01-01", "end"),
    ("candles", "instrument_id={id}&timeframe=1h&limit=-1", "limit"),
    ("candles", "instrument_id={id}&timeframe=1h&limit=0", "limit"),
    ("candles", "instrument_id={id}&timeframe=1h&limit=1000000", "limit"),
    ("candles", "instrument_id={id}&timeframe=1h&limit=ten", "limit"),
    ("indicators", "instrument_id={id}&timeframe=1h", "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=", "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=magic:3", "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=sma:-4", "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=sma:abc", "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=sma:2.5", "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=sma:nan", "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=sma:1e400", "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=sma:20:3", "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=macd:26:12:9", "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=bollinger:20:-1", "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=" + ",".join(["sma:5"] * 13), "names"),
    ("indicators", "instrument_id={id}&timeframe=1h&names=sma:20&start=garbage", "start"),
    ("quality-reports", "instrument_id=xyz", "instrument_id"),
    ("quality-reports", "limit=100000", "limit"),
    ("instruments", "limit=-1", "limit"),
    ("instruments", "offset=-1", "offset"),
]


@pytest.mark.parametrize(("endpoint", "query", "field"), BAD_QUERIES)
def test_it_rejects_bad_input_with_field_details(api_client, btc, endpoint, query, field):
    # when
    response = api_client.get(f"/api/v1/{endpoint}?{query.format(id=btc.pk)}")
    # then
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert detail and all("msg" in d and "loc" in d for d in detail)
    assert any(d["loc"][-1] == field for d in detail), detail


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/instruments/abc",
        "/api/v1/instruments/-1",
        "/api/v1/instruments/99999999999999999999999",
        "/api/v1/quality-reports/abc",
        "/api/v1/quality-reports/0",
        "/api/v1/quality-reports/99999999999999999999999",
    ],
)
def test_it_never_fails_on_bad_path_ids(api_client, path):
    assert api_client.get(path).status_code in (404, 422)


def test_a_huge_range_is_answered_in_bounded_pages_that_skip_empty_time(api_client, btc):
    # when: all of 1970..2100 at once
    url = (
        f"/api/v1/candles?instrument_id={btc.pk}&timeframe=1h"
        "&start=1970-01-01&end=2100-01-01&limit=10000"
    )
    first = api_client.get(url).json()
    # then: the first page (1970-71) is empty and points at the first stored bar
    assert first["count"] == 0 and first["end"] == 10_000 * HOUR
    assert first["next_start"] == JAN_1_2024
    following = api_client.get(
        url.replace("start=1970-01-01", f"start={first['next_start']}")
    ).json()
    assert following["count"] == BARS and following["next_start"] is None


def test_it_says_there_is_no_next_page_when_nothing_follows(api_client, btc):
    body = api_client.get(
        f"/api/v1/candles?instrument_id={btc.pk}&timeframe=1m&start=2020-01-01&limit=10"
    ).json()
    assert body["count"] == 0 and body["next_start"] is None
