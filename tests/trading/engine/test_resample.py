"""Resampling closed bars to higher timeframes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.market_data import load_bars
from trading.engine.market import Bars
from trading.engine.resample import IncompleteBar, resample_bars

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def _subset(bars: Bars, index: np.ndarray) -> Bars:
    return Bars.from_arrays(bars.timestamps[index], bars.open[index], bars.high[index],
                            bars.low[index], bars.close[index], bars.volume[index],
                            symbol=bars.symbol, timeframe=bars.timeframe)


def _hourly(n: int, start: int = T0) -> Bars:
    rng = np.random.default_rng(3)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = np.abs(rng.normal(0, 0.5, n))
    return Bars.from_arrays(start + HOUR * np.arange(n), open_, np.maximum(open_, close) + spread,
                            np.minimum(open_, close) - spread, close, rng.uniform(1, 5, n))


def test_resampling_real_5m_bars_reproduces_binance_1h_bars():
    # given Binance's own 5m and 1h BTC/USDT bars for 2024
    five_minute = load_bars("BTCUSDT", "5m")
    hourly = load_bars("BTCUSDT", "1h", start="2024-01-01", end="2024-09-07")
    # when
    result = resample_bars(five_minute, "1h")
    # then every resampled hour equals the exchange's 1h bar
    at = pd.Index(hourly.timestamps).get_indexer(result.bars.timestamps)
    assert len(result.bars) == 5_980 and (at >= 0).all()
    for name in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(result.bars, name), getattr(hourly, name)[at])
    np.testing.assert_allclose(result.bars.volume, hourly.volume[at], rtol=1e-9)
    assert result.complete.all()
    # and the file's last, partial hour (04:00-04:40, 9 of 12 bars) is dropped
    assert result.dropped_edges == (IncompleteBar(1_725_595_200_000, 12, 9, True),)


def test_4h_and_1d_match_pandas_with_utc_aligned_labels():
    # given a gap-free stretch of real 1h bars starting and ending on day boundaries
    bars = load_bars("BTCUSDT", "1h", start="2024-02-01", end="2024-04-01")
    frame = pd.DataFrame(
        {"open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close,
         "volume": bars.volume},
        index=pd.to_datetime(bars.timestamps, unit="ms"),  # naive UTC wall time
    )
    rules = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    for target, rule, length in (("4h", "4h", 4 * HOUR), ("1d", "1D", DAY)):
        # when
        result = resample_bars(bars, target)
        expected = frame.resample(rule, origin="epoch", label="left", closed="left").agg(rules)
        # then
        assert (result.bars.timestamps % length == 0).all()
        np.testing.assert_array_equal(result.bars.timestamps,
                                      expected.index.as_unit("ms").asi8)
        for name in rules:
            np.testing.assert_allclose(getattr(result.bars, name), expected[name], rtol=1e-12)
        assert result.bars.timeframe == target and result.complete.all()


def test_partial_edge_bars_are_dropped_by_default_or_kept_flagged():
    # given 1h bars from 02:00 day 1 to 01:00 day 3 (both days cut at the edges)
    bars = _hourly(48, start=T0 + 2 * HOUR)
    # when
    dropped = resample_bars(bars, "1d")
    flagged = resample_bars(bars, "1d", edge_partial="flag")
    # then
    assert dropped.bars.timestamps.tolist() == [T0 + DAY]
    assert dropped.dropped_edges == (IncompleteBar(T0, 24, 22, True),
                                     IncompleteBar(T0 + 2 * DAY, 24, 2, True))
    assert flagged.bars.timestamps.tolist() == [T0, T0 + DAY, T0 + 2 * DAY]
    assert flagged.complete.tolist() == [False, True, False]
    assert flagged.source_counts.tolist() == [22, 24, 2]
    assert [b.at_edge for b in flagged.incomplete] == [True, True]
    # and the kept partial bar aggregates only the bars that exist
    assert flagged.bars.open[0] == bars.open[0]
    assert flagged.bars.volume[0] == pytest.approx(bars.volume[:22].sum())


def test_missing_source_bars_inside_are_reported_not_invented():
    # given 24 hours with 05:00 and 06:00 missing, and 12:00-15:59 missing entirely
    bars = _hourly(24)
    keep = np.array([i for i in range(24) if i not in (5, 6, 12, 13, 14, 15)])
    source = _subset(bars, keep)
    # when
    result = resample_bars(source, "4h")
    # then the 04:00 bar is built from its two bars and reported, 12:00 is simply absent
    opens = result.bars.timestamps.tolist()
    assert T0 + 12 * HOUR not in opens and len(opens) == 5
    assert result.incomplete == (IncompleteBar(T0 + 4 * HOUR, 4, 2, False),)
    assert result.missing_source_bars == 2
    i = opens.index(T0 + 4 * HOUR)
    assert result.bars.open[i] == bars.open[4] and result.bars.close[i] == bars.close[7]
    assert result.bars.high[i] == max(bars.high[4], bars.high[7])
    assert result.dropped_edges == ()


def test_funding_of_a_target_bar_is_the_value_known_at_its_open():
    bars = _hourly(8)
    with_funding = Bars.from_arrays(bars.timestamps, bars.open, bars.high, bars.low, bars.close,
                                    bars.volume, funding_rate=np.arange(8, dtype=float))
    result = resample_bars(with_funding, "4h")
    assert result.bars.funding_rate is not None
    assert result.bars.funding_rate.tolist() == [0.0, 4.0]


def test_it_refuses_unsorted_bars_and_impossible_targets():
    bars = _hourly(8)
    with pytest.raises(ValueError, match="multiple"):
        resample_bars(_hourly(8), "1h")
    with pytest.raises(ValueError, match="strictly increasing"):
        resample_bars(_subset(bars, np.array([0, 2, 1, 3])), "4h")
    with pytest.raises(ValueError, match="edge_partial"):
        resample_bars(bars, "4h", edge_partial="keep")  # type: ignore[arg-type]


def test_empty_input_gives_empty_output():
    empty = _subset(_hourly(4), np.array([], dtype=np.int64))
    result = resample_bars(empty, "4h")
    assert len(result.bars) == 0 and result.incomplete == () and result.dropped_edges == ()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 95), min_size=1, max_size=96, unique=True),
       st.sampled_from(["4h", "1d"]), st.sampled_from(["drop", "flag"]))
def test_every_source_bar_is_accounted_for_once(kept, target, edge_partial):
    # given any subset of four days of hourly bars
    source = _subset(_hourly(96), np.array(sorted(kept)))
    # when
    result = resample_bars(source, target, edge_partial=edge_partial)
    # then each source bar lands in exactly one kept or dropped target bar
    dropped = sum(b.present for b in result.dropped_edges)
    assert int(result.source_counts.sum()) + dropped == len(source)
    length = {"4h": 4 * HOUR, "1d": DAY}[target]
    buckets = source.timestamps - source.timestamps % length
    dropped_opens = [b.open_time for b in result.dropped_edges]
    dropped_volume = float(source.volume[np.isin(buckets, dropped_opens)].sum())
    assert float(result.bars.volume.sum()) + dropped_volume == pytest.approx(source.volume.sum())
    assert (result.bars.high >= result.bars.low).all()
    assert set(result.bars.timestamps.tolist()).isdisjoint(dropped_opens)
