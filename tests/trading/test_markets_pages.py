"""Markets pages: the instrument overview, the instrument chart page and its chart JSON."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from tests.factories import (
    DataQualityReportFactory,
    InstrumentFactory,
    candles_create,
    synthetic_bars,
)
from tests.market_data import load_bars
from tests.trading.chart_payload import decoded, embedded_chart, trace

pytestmark = pytest.mark.django_db



JAN_1_2024 = 1_704_067_200_000
HOUR = 3_600_000


@pytest.fixture
def btc():
    return InstrumentFactory(base="BTC", symbol="BTC/USDT")


@pytest.fixture
def btc_with_data(btc):
    candles_create(btc, synthetic_bars(48, start_ms=JAN_1_2024))
    candles_create(btc, synthetic_bars(10, timeframe="4h", start_ms=JAN_1_2024, seed=3))
    return btc


def _chart_url(instrument, **params):
    query = "&".join(f"{k}={v}" for k, v in {"configured": 1, **params}.items())
    return reverse("trading:instrument_chart", args=[instrument.pk]) + "?" + query


# --- access ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["trading:markets", "trading:instrument", "trading:instrument_chart"]
)
def test_it_requires_login(client, btc, name):
    # when
    args = [] if name == "trading:markets" else [btc.pk]
    response = client.get(reverse(name, args=args))
    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- markets page ----------------------------------------------------------------------------
def test_it_lists_instruments_with_coverage_per_timeframe(logged_in_client, btc_with_data):
    # when
    response = logged_in_client.get(reverse("trading:markets"))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "binance:BTC/USDT" in html
    assert ">48<" in html and ">10<" in html  # bars per timeframe
    assert "2024-01-01 00:00 UTC" in html  # first bar, readable
    assert "2024-01-02 23:00 UTC" in html  # last 1h bar
    assert html.index(">1h<") < html.index(">4h<")  # finest timeframe first


def test_it_shows_the_latest_candle_cell_per_timeframe(logged_in_client, btc_with_data):
    # given
    last_close = synthetic_bars(48, start_ms=JAN_1_2024).close[-1]
    # when
    html = logged_in_client.get(reverse("trading:markets")).content.decode()
    # then
    assert f'id="latest-candle-{btc_with_data.pk}-1h"' in html
    assert f'id="latest-candle-{btc_with_data.pk}-4h"' in html
    assert f"{last_close:,.4f}".rstrip("0") in html
    assert "hx-swap-oob" not in html  # only live updates swap out of band


def test_it_shows_the_latest_quality_report_and_its_problems(logged_in_client, btc_with_data):
    # given
    DataQualityReportFactory(instrument=btc_with_data, timeframe="1h", status="ok", gap_count=0)
    DataQualityReportFactory(
        instrument=btc_with_data,
        timeframe="1h",
        gap_count=4,
        missing_bars=17,
        duplicates=2,
        zero_volume=3,
    )
    # when
    html = logged_in_client.get(reverse("trading:markets")).content.decode()
    # then
    assert "Accepted with warnings" in html
    assert ">4<" in html and ">17<" in html
    assert "2 duplicates" in html and "3 zero-volume bars" in html
    assert "/admin/" not in html.split("<main", 1)[1]  # no admin links for non-staff


def test_it_links_staff_to_the_admin_report(client, staff_user, btc_with_data):
    # given
    report = DataQualityReportFactory(instrument=btc_with_data, timeframe="1h")
    client.force_login(staff_user)
    # when
    html = client.get(reverse("trading:markets")).content.decode()
    # then
    assert reverse("admin:trading_dataqualityreport_change", args=[report.pk]) in html


def test_it_connects_the_markets_page_to_the_live_socket(logged_in_client, btc_with_data):
    html = logged_in_client.get(reverse("trading:markets")).content.decode()
    assert 'hx-ext="ws"' in html
    assert 'ws-connect="/ws/live/?groups=markets"' in html


def test_it_returns_only_the_table_fragment_to_htmx(logged_in_client, btc_with_data):
    # when
    response = logged_in_client.get(reverse("trading:markets"), HTTP_HX_REQUEST="true")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="markets-table">')
    assert "<html" not in html and "ws-connect" not in html
    assert "binance:BTC/USDT" in html


def test_it_says_when_there_are_no_instruments(logged_in_client):
    html = logged_in_client.get(reverse("trading:markets")).content.decode()
    assert "No instruments yet" in html


def test_the_refresh_link_has_a_real_href(logged_in_client):
    html = logged_in_client.get(reverse("trading:markets")).content.decode()
    assert f'href="{reverse("trading:markets")}" hx-get="{reverse("trading:markets")}"' in html


# --- instrument page -------------------------------------------------------------------------
def test_it_renders_the_instrument_chart_with_default_overlays(logged_in_client, btc_with_data):
    # when
    response = logged_in_client.get(reverse("trading:instrument", args=[btc_with_data.pk]))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert f'ws-connect="/ws/live/?groups=instrument.{btc_with_data.pk}"' in html
    assert "vendor/plotly/plotly.min.js" in html and "js/instrument_chart.js" in html
    payload = embedded_chart(html)
    assert payload["meta"]["timeframe"] == "1h" and payload["meta"]["points"] == 48
    assert payload["meta"]["indicators"] == ["sma:20", "rsi:14"]
    closes = decoded(trace(payload, "candles")["close"])
    np.testing.assert_allclose(closes, synthetic_bars(48, start_ms=JAN_1_2024).close)
    assert trace(payload, "rsi:14.value")["yaxis"] == "y3"  # its own panel under volume


def test_it_draws_the_selected_overlays_and_panels(logged_in_client, btc_with_data):
    # when
    url = reverse("trading:instrument", args=[btc_with_data.pk])
    query = (
        "configured=1&timeframe=1h&bollinger=on&bollinger_n=10&bollinger_k=2.5"
        "&macd=on&donchian=on&vwap=on"
    )
    payload = embedded_chart(logged_in_client.get(f"{url}?{query}").content.decode())
    # then
    assert payload["meta"]["indicators"] == [
        "bollinger:10:2.5",
        "donchian:20",
        "vwap:24",
        "macd:12:26:9",
    ]
    metas = {t.get("meta") for t in payload["figure"]["data"]}
    assert {
        "bollinger:10:2.5.upper",
        "donchian:20.lower",
        "vwap:24.value",
        "macd:12:26:9.histogram",
    } <= metas
    assert "sma:20.value" not in metas  # unchecked


def test_it_selects_a_timeframe_and_a_date_range(logged_in_client, btc_with_data):
    # when: 2024-01-01 as an inclusive day of 4h bars
    url = reverse("trading:instrument", args=[btc_with_data.pk])
    html = logged_in_client.get(
        f"{url}?configured=1&timeframe=4h&start=2024-01-01&end=2024-01-01"
    ).content
    # then
    payload = embedded_chart(html.decode())
    x = decoded(trace(payload, "candles")["x"])
    assert payload["meta"]["timeframe"] == "4h"
    assert x[0] == JAN_1_2024 and x[-1] == JAN_1_2024 + 20 * HOUR and len(x) == 6


def test_it_returns_only_the_chart_fragment_to_htmx(logged_in_client, btc_with_data):
    # when
    url = reverse("trading:instrument", args=[btc_with_data.pk]) + "?configured=1&timeframe=4h"
    response = logged_in_client.get(url, HTTP_HX_REQUEST="true")
    # then
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="chart-panel">')
    assert "<html" not in html and "chart-form" not in html
    assert embedded_chart(html)["meta"]["timeframe"] == "4h"


def test_the_chart_form_works_without_javascript(logged_in_client, btc_with_data):
    html = logged_in_client.get(
        reverse("trading:instrument", args=[btc_with_data.pk])
    ).content.decode()
    url = reverse("trading:instrument", args=[btc_with_data.pk])
    assert f'method="get"\n          action="{url}"' in html and f'hx-get="{url}"' in html


def test_it_shows_form_errors_instead_of_a_chart(logged_in_client, btc_with_data):
    # when
    url = reverse("trading:instrument", args=[btc_with_data.pk])
    response = logged_in_client.get(
        f"{url}?configured=1&timeframe=1h&sma=on&sma_n=-5&start=garbage"
    )
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "greater than or equal to 2" in html and "is not an ISO 8601" in html
    assert 'id="chart-data"' not in html


def test_it_answers_404_for_an_unknown_instrument(logged_in_client):
    assert logged_in_client.get("/markets/999999/").status_code == 404
    assert logged_in_client.get("/markets/99999999999999999999999999/").status_code == 404
    assert logged_in_client.get("/markets/99999999999999999999999999/chart.json").status_code == 404


def test_it_escapes_the_embedded_chart_json(logged_in_client):
    # given: a symbol that would close the script element if not escaped
    evil = InstrumentFactory(base="X", symbol="</script><b>X")
    candles_create(evil, synthetic_bars(5))
    # when
    html = logged_in_client.get(reverse("trading:instrument", args=[evil.pk])).content.decode()
    # then
    assert "</script><b>X" not in html
    assert embedded_chart(html)["figure"]["layout"]["title"]["text"].startswith(
        "binance:</script><b>X"
    )


# --- chart JSON ------------------------------------------------------------------------------
def test_it_downsamples_70k_bars_and_keeps_ohlc_and_indicators_exact(
    logged_in_client, btc, settings
):
    # given: the real BTC 1h history (73k bars, with real gaps)
    settings.ORGANISM_CHART_MAX_POINTS = 5000
    bars = load_bars("BTCUSDT", "1h")
    candles_create(btc, bars)
    # when
    response = logged_in_client.get(_chart_url(btc, timeframe="1h", sma="on", sma_n=50))
    # then
    assert response.status_code == 200
    payload = response.json()
    meta = payload["meta"]
    assert meta["downsampled"] and meta["source_bars"] == len(bars) > 70_000
    assert meta["points"] <= 5000
    assert "Downsampled: 73,265 1h bars" in meta["note"]
    assert any("Downsampled" in a["text"] for a in payload["figure"]["layout"]["annotations"])
    # an independent aggregation with pandas over the same epoch-aligned buckets
    unit_ms = {"m": 60_000, "h": HOUR, "d": 24 * HOUR}[meta["bucket"][-1]]
    bucket_ms = int(meta["bucket"][:-1]) * unit_ms
    frame = pd.DataFrame(
        {
            "t": bars.timestamps,
            "o": bars.open,
            "h": bars.high,
            "l": bars.low,
            "c": bars.close,
            "v": bars.volume,
        }
    )
    frame["sma"] = frame["c"].rolling(50).mean()
    expected = frame.groupby(frame["t"] // bucket_ms).agg(
        o=("o", "first"),
        h=("h", "max"),
        l=("l", "min"),
        c=("c", "last"),
        v=("v", "sum"),
        sma=("sma", "last"),
    )
    candles = trace(payload, "candles")
    np.testing.assert_array_equal(decoded(candles["x"]), expected.index.to_numpy() * bucket_ms)
    for field, column in (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c")):
        np.testing.assert_array_equal(decoded(candles[field]), expected[column].to_numpy())
    np.testing.assert_allclose(
        decoded(trace(payload, "volume")["y"]), expected["v"].to_numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(
        decoded(trace(payload, "sma:50.value")["y"]), expected["sma"].to_numpy(), rtol=1e-9
    )


def test_it_sends_full_resolution_for_a_zoomed_range(logged_in_client, btc, settings):
    # given
    settings.ORGANISM_CHART_MAX_POINTS = 100
    bars = synthetic_bars(2000, start_ms=JAN_1_2024)
    candles_create(btc, bars)
    start, end = JAN_1_2024 + 500 * HOUR, JAN_1_2024 + 572 * HOUR
    # when: the page script asks for the visible range in epoch ms
    payload = logged_in_client.get(
        _chart_url(btc, timeframe="1h", start=start, end=end, ema="on", ema_n=50)
    ).json()
    # then
    assert not payload["meta"]["downsampled"] and payload["meta"]["points"] == 72
    candles = trace(payload, "candles")
    np.testing.assert_array_equal(decoded(candles["x"]), bars.timestamps[500:572])
    np.testing.assert_array_equal(decoded(candles["high"]), bars.high[500:572])
    # the EMA was warmed up on bars before the range: no NaN at its start
    assert not np.isnan(decoded(trace(payload, "ema:50.value")["y"])).any()


def test_the_chart_json_rejects_bad_parameters(logged_in_client, btc_with_data):
    response = logged_in_client.get(
        _chart_url(
            btc_with_data, timeframe="2h", start="soon", macd="on", macd_fast=30, macd_slow=10
        )
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {"timeframe", "start", "macd"} <= set(errors)
