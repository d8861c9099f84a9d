"""The market-data admin: read-only browsing of candles, funding and quality reports."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.market_data import load_bars
from trading.models import Candle, DataQualityReport
from trading.services.candles import candles_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(tmp_path):
    bars = load_bars("BTCUSDT", "1h", start="2024-01-01", limit=30)
    frame = pd.DataFrame({"timestamp": bars.timestamps, "open": bars.open, "high": bars.high,
                          "low": bars.low, "close": bars.close, "volume": bars.volume})
    frame.drop(index=[5, 6]).to_csv(tmp_path / "ok.csv", index=False)
    frame.assign(close=frame["close"].astype(str).where(frame.index != 2, "x")).to_csv(
        tmp_path / "bad.csv", index=False)
    good = candles_import(path=tmp_path / "ok.csv", exchange="binance", symbol="BTC/USDT",
                          timeframe="1h")
    bad = candles_import(path=tmp_path / "bad.csv", exchange="binance", symbol="BTC/USDT",
                         timeframe="1h")
    return good, bad


def test_it_shows_a_report_with_its_gap_ranges_and_rejected_rows(client, staff_user, imported):
    good, bad = imported
    client.force_login(staff_user)
    # when
    listing = client.get("/admin/trading/dataqualityreport/")
    warnings_page = client.get(f"/admin/trading/dataqualityreport/{good.pk}/change/")
    rejected_page = client.get(f"/admin/trading/dataqualityreport/{bad.pk}/change/")
    # then
    assert listing.status_code == 200 and b"Rejected" in listing.content
    assert b"2024-01-01 05:00 UTC" in warnings_page.content  # first missing bar of the gap
    assert b"row 3 close: unparsable value" in rejected_page.content


def test_candles_are_browsable_but_not_editable(client, staff_user, imported):
    client.force_login(staff_user)
    candle = Candle.objects.first()
    assert client.get("/admin/trading/candle/").status_code == 200
    assert client.get("/admin/trading/candle/?timeframe=1h").status_code == 200
    assert client.get("/admin/trading/candle/add/").status_code == 403
    detail = client.get(f"/admin/trading/candle/{candle.pk}/change/")
    assert detail.status_code == 200 and b"Save" not in detail.content
    assert client.post(f"/admin/trading/candle/{candle.pk}/delete/").status_code == 403
    assert client.get("/admin/trading/fundingrate/").status_code == 200
    assert client.get("/admin/trading/dataqualityreport/add/").status_code == 403
    assert DataQualityReport.objects.count() == 2
