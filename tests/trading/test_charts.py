"""Chart building blocks without a database: downsampling, indicator requests, instants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import synthetic_bars
from trading.charts import (
    IndicatorSpecError,
    downsample_bars,
    indicator_spec,
    parse_indicator_specs,
)
from trading.charts.downsample import bucket_factor, last_in_bucket
from trading.engine.market import Bars
from trading.instants import parse_instant

HOUR = 3_600_000


def _with_gaps(bars: Bars, keep: np.ndarray) -> Bars:
    return Bars.from_arrays(
        bars.timestamps[keep],
        bars.open[keep],
        bars.high[keep],
        bars.low[keep],
        bars.close[keep],
        bars.volume[keep],
        timeframe=bars.timeframe,
    )


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=3000),
    max_points=st.integers(min_value=10, max_value=400),
    drop_seed=st.integers(min_value=0, max_value=1000),
    start_hour=st.integers(min_value=0, max_value=500_000),
)
def test_buckets_never_exceed_max_points_and_aggregate_exactly(
    n, max_points, drop_seed, start_hour
):
    # given: bars with random gaps
    full = synthetic_bars(n, start_ms=start_hour * HOUR, seed=drop_seed)
    keep = np.random.default_rng(drop_seed).random(n) > 0.2
    keep[0] = True
    bars = _with_gaps(full, keep)
    # when
    sampled = downsample_bars(bars, max_points)
    # then
    out = sampled.bars
    assert len(out) <= max_points
    assert np.all(np.diff(out.timestamps) > 0)
    assert np.all(out.timestamps % sampled.bucket_ms == 0)
    for i in range(len(out)):
        inside = (bars.timestamps >= out.timestamps[i]) & (
            bars.timestamps < out.timestamps[i] + sampled.bucket_ms
        )
        assert out.open[i] == bars.open[inside][0] and out.close[i] == bars.close[inside][-1]
        assert out.high[i] == bars.high[inside].max() and out.low[i] == bars.low[inside].min()
    assert np.isclose(out.volume.sum(), bars.volume.sum(), rtol=1e-12)


def test_it_keeps_every_bar_when_they_fit():
    bars = synthetic_bars(500)
    sampled = downsample_bars(bars, 500)
    assert not sampled.is_downsampled and sampled.bars is bars


def test_it_prefers_readable_bucket_widths():
    # 73k hourly bars into 5000 points: 15 bars minimum, 1 day is the next readable width
    bars = synthetic_bars(73_000, start_ms=0)
    assert bucket_factor(bars, 5000) == 24
    assert bucket_factor(synthetic_bars(2_000, start_ms=0), 1000) == 2


def test_indicator_series_take_the_value_at_each_bucket_s_last_bar():
    bars = synthetic_bars(100, start_ms=0)
    sampled = downsample_bars(bars, 10)
    series = np.arange(100, dtype=float)
    reduced = last_in_bucket(series, sampled)
    np.testing.assert_array_equal(reduced, sampled.last_index.astype(float))
    assert reduced[-1] == 99.0
    with pytest.raises(ValueError):
        last_in_bucket(series[:50], sampled)


def test_it_parses_indicator_requests_with_defaults_and_canonical_keys():
    specs = parse_indicator_specs(" sma:20, bollinger:20:2 ,macd, rsi:14,sma:20.0")
    assert [s.key for s in specs] == ["sma:20", "bollinger:20:2", "macd:12:26:9", "rsi:14"]
    assert specs[1].params_by_name == {"n": 20, "k": 2.0}
    assert indicator_spec("bollinger", "20", "2.5").key == "bollinger:20:2.5"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one"),
        ("sma:1", "between 2 and 2000"),
        ("ema:abc", "must be a number"),
        ("rsi:14.5", "whole number"),
        ("sma:inf", "finite"),
        ("macd:26:12", "fast (26) must be smaller than slow (12)"),
        ("bollinger:20:2:1", "at most 2 parameter"),
        ("ichimoku_magic", "unknown indicator"),
    ],
)
def test_it_refuses_bad_indicator_requests(text, message):
    with pytest.raises(IndicatorSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_indicator_specs(text)


def test_every_registered_indicator_computes_on_real_shaped_bars():
    from trading.charts import INDICATORS

    bars = synthetic_bars(400)
    for name in INDICATORS:
        outputs = indicator_spec(name).compute(bars)
        assert outputs and all(len(v) == 400 for v in outputs.values()), name
        assert all(np.isfinite(v[-1]) for v in outputs.values()), name


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1704067200000", 1_704_067_200_000),
        ("2024-01-01", 1_704_067_200_000),
        ("2024-01-01T01:00", 1_704_070_800_000),
        ("2024-01-01 01:00:00Z", 1_704_070_800_000),
        ("2024-01-01T03:00:00+02:00", 1_704_070_800_000),
    ],
)
def test_it_reads_instants_in_iso_or_milliseconds(text, ms):
    assert parse_instant(text) == ms


@pytest.mark.parametrize(
    "text", ["tomorrow", "2024-02-30", "-1", "1e12", "99999999999999999999", "9999-01-01", ""]
)
def test_it_refuses_unreadable_or_out_of_range_instants(text):
    with pytest.raises(ValueError):
        parse_instant(text)
