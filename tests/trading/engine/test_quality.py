"""Quality checks on candle arrays: real Binance data and hand-made faults."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.market_data import load_bars, load_funding
from trading.engine.quality import RowProblem, check_candles, check_funding, find_gaps

HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def _ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


def _candles(n: int = 10, *, start: int = T0) -> dict[str, np.ndarray]:
    close = 100.0 + np.arange(n, dtype=np.float64)
    return {
        "timestamps": start + HOUR * np.arange(n, dtype=np.int64),
        "open": close - 0.5,
        "high": close + 1.0,
        "low": close - 1.0,
        "close": close,
        "volume": np.full(n, 10.0),
    }


def _check(c: dict[str, np.ndarray], **kwargs):
    return check_candles(c["timestamps"], c["open"], c["high"], c["low"], c["close"], c["volume"],
                         interval_ms=HOUR, **kwargs)


def test_it_reports_the_known_gaps_and_zero_volume_bars_of_real_btc_1h():
    # given the real Binance BTC/USDT 1h history
    bars = load_bars("BTCUSDT", "1h")
    # when
    findings = check_candles(bars.timestamps, bars.open, bars.high, bars.low, bars.close,
                             bars.volume, interval_ms=HOUR)
    # then the numbers documented in shared/data/README.md come out exactly
    assert findings.rows == 73_265
    assert findings.gap_count == 27
    assert findings.missing_bars == 122
    assert len(findings.zero_volume_rows) == 3
    assert findings.status == "warnings"
    assert not findings.rejected
    counts = findings.counts()
    for clean in ("duplicates", "non_monotonic", "ohlc_inconsistent", "non_positive_prices",
                  "negative_volume"):
        assert counts[clean] == 0, clean
    gap_days = {f"{pd.Timestamp(g.first_missing, unit='ms'):%Y-%m-%d}" for g in findings.gaps}
    assert {"2018-02-08", "2019-05-15", "2023-03-24"} <= gap_days
    # and the -20% hour of 2020-03-12 is among the outlier returns
    crash = [o for o in findings.outliers if o.open_time == _ms("2020-03-12 10:00")]
    assert crash and crash[0].log_return < -0.2


def test_gap_ranges_name_the_first_and_last_missing_bar():
    # given bars at 00:00, 01:00, then 05:00 (02:00..04:00 missing)
    c = _candles(6)
    keep = np.array([0, 1, 5])
    c = {k: v[keep] for k, v in c.items()}
    # when
    findings = _check(c)
    # then
    assert len(findings.gaps) == 1
    gap = findings.gaps[0]
    assert (gap.first_missing, gap.last_missing, gap.missing_bars) == (T0 + 2 * HOUR,
                                                                      T0 + 4 * HOUR, 3)
    assert findings.status == "warnings"


def test_clean_bars_are_ok():
    findings = _check(_candles(20))
    assert findings.status == "ok"
    assert findings.warnings() == []
    assert (findings.first_time, findings.last_time) == (T0, T0 + 19 * HOUR)


def test_it_lists_each_kind_of_ohlc_inconsistency_by_row():
    # given: row 2 high below close, row 4 low above open, row 6 high below low
    c = _candles(8)
    c["high"][1] = c["close"][1] - 0.1
    c["low"][3] = c["open"][3] + 0.1
    c["high"][5], c["low"][5] = 90.0, 95.0
    # when
    findings = _check(c)
    # then
    assert findings.ohlc_inconsistent_rows == (2, 4, 6)
    assert findings.status == "warnings"
    assert not findings.rejected


def test_it_reports_non_positive_prices_and_negative_and_zero_volume():
    c = _candles(6)
    c["low"][2] = 0.0
    c["volume"][3] = -1.0
    c["volume"][4] = 0.0
    findings = _check(c)
    assert findings.non_positive_price_rows == (3,)
    assert findings.negative_volume_rows == (4,)
    assert findings.zero_volume_rows == (5,)


def test_identical_duplicates_and_out_of_order_rows_are_warnings():
    # given row 4 repeats row 2 exactly, and rows 5.. go back in time
    c = _candles(6)
    order = np.array([0, 1, 2, 1, 4, 3, 5])
    c = {k: v[order] for k, v in c.items()}
    # when
    findings = _check(c)
    # then
    assert findings.duplicate_rows == (4,)
    assert findings.non_monotonic_rows == (4, 6)
    assert findings.gap_count == 0
    assert findings.status == "warnings"


def test_a_duplicate_timestamp_with_different_values_rejects_the_batch():
    c = _candles(5)
    c = {k: np.append(v, v[2]) for k, v in c.items()}
    c["close"][5] += 1.0
    findings = _check(c)
    assert findings.rejected
    assert findings.structural == (
        RowProblem(6, "timestamp", "same timestamp as row 3 with different values"),
    )


def test_nan_prices_reject_with_the_row_numbers():
    # given NaN close on row 3 and an infinite volume on row 5
    c = _candles(6)
    c["close"][2] = np.nan
    c["volume"][4] = np.inf
    # when
    findings = _check(c)
    # then
    assert findings.status == "rejected"
    assert [(p.row, p.column) for p in findings.structural] == [(3, "close"), (5, "volume")]
    assert findings.summary()[0].startswith("REJECTED")


def test_timestamps_off_the_timeframe_grid_reject():
    c = _candles(4)
    c["timestamps"][2] += 60_000
    findings = _check(c)
    assert [p.row for p in findings.structural] == [3]
    assert "grid" in findings.structural[0].message


def test_a_single_bad_tick_is_the_only_outlier_in_a_random_walk():
    # given a calm random walk with one +30% spike at row 500 that reverts next bar
    rng = np.random.default_rng(7)
    n = 1_000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    close[499] *= 1.3
    c = _candles(n)
    c.update(close=close, open=close, high=close * 1.001, low=close * 0.999)
    # when
    findings = _check(c)
    # then the jump into the spike and the fall back out are flagged, nothing else
    assert [o.row for o in findings.outliers] == [500, 501]
    assert findings.outliers[0].log_return > 0.25 > findings.outliers[0].threshold


def test_details_are_json_ready_and_capped():
    c = _candles(400)
    c["volume"][:] = 0.0
    details = _check(c).as_details(limit=50)
    assert len(details["zero_volume_rows"]) == 50
    assert _check(c).counts()["zero_volume"] == 400
    assert json.loads(json.dumps(details)) == details


def test_funding_checks_on_real_binance_funding():
    ts, rates = load_funding("BTCUSDT")
    findings = check_funding(ts, rates)
    assert findings.rows == 7_323
    assert findings.gap_count == 0
    assert findings.status == "ok"


def test_funding_with_a_missing_rate_and_a_gap():
    ts = T0 + 8 * HOUR * np.array([0, 1, 2, 4, 5], dtype=np.int64)
    rates = np.array([1e-4, 1e-4, np.nan, 1e-4, 1e-4])
    assert [p.row for p in check_funding(ts, rates).structural] == [3]
    rates[2] = 1e-4
    findings = check_funding(ts, rates)
    assert (findings.gap_count, findings.missing_bars) == (1, 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=198), unique=True, max_size=60))
def test_gaps_account_for_every_removed_interior_bar(removed):
    # given a 200-bar grid with some interior bars removed
    grid = T0 + HOUR * np.arange(200, dtype=np.int64)
    kept = np.delete(grid, removed)
    # when
    gaps = find_gaps(kept, HOUR)
    # then every removed bar is in exactly one gap, and gaps are separate runs
    assert sum(g.missing_bars for g in gaps) == len(removed)
    covered = {t for g in gaps for t in range(g.first_missing, g.last_missing + 1, HOUR)}
    assert covered == set(grid[removed].tolist())
    runs = np.sum(np.diff(np.sort(removed)) > 1) + 1 if removed else 0
    assert len(gaps) == runs
