"""Server-side downsampling of candles for charts.

Guarantees: `downsample_bars` returns at most `max_points` buckets; each bucket
is a whole number of bars of the source timeframe, aligned to the epoch, and its
candle is the exact OHLCV aggregate of the stored bars inside it (open of the
first bar, max of highs, min of lows, close of the last bar, sum of volumes).
Missing bars stay missing: a gap in the data is a gap between buckets, never
filled. Indicator series computed on the full-resolution bars are reduced with
`last_in_bucket`: the value at the bucket's last bar, i.e. what the
full-resolution chart shows at that bucket's close.

Pure numpy, no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trading.engine.market import Bars, timeframe_ms

MIN_POINTS = 10
_MINUTE, _HOUR, _DAY = 60_000, 3_600_000, 86_400_000
# Bucket widths a reader recognises; preferred when they are multiples of the timeframe.
READABLE_BUCKET_MS: tuple[int, ...] = (
    *(m * _MINUTE for m in (1, 2, 3, 5, 10, 15, 30)),
    *(h * _HOUR for h in (1, 2, 3, 4, 6, 8, 12)),
    *(d * _DAY for d in (1, 2, 3, 7, 14, 28, 56, 112, 224, 448)),
)


@dataclass(frozen=True, eq=False)
class Downsampled:
    """Bars shown on the chart, and how they map to the full-resolution bars."""

    bars: Bars
    factor: int  # source bars per bucket (1 = not downsampled)
    source_bars: int  # bars before downsampling
    first_index: np.ndarray  # per bucket, index of its first source bar
    last_index: np.ndarray  # per bucket, index of its last source bar

    @property
    def is_downsampled(self) -> bool:
        return self.factor > 1

    @property
    def bucket_ms(self) -> int:
        return self.factor * timeframe_ms(self.bars.timeframe)


def bucket_factor(bars: Bars, max_points: int) -> int:
    """Bars per bucket: the smallest (readable where possible) that fits `max_points`."""
    if max_points < MIN_POINTS:
        raise ValueError(f"max_points must be at least {MIN_POINTS}")
    if len(bars) <= max_points:
        return 1
    step = timeframe_ms(bars.timeframe)
    first, last = int(bars.timestamps[0]), int(bars.timestamps[-1])
    minimum = max(2, -(-((last - first) // step + 1) // max_points))
    for width in READABLE_BUCKET_MS:
        readable = width % step == 0 and width // step >= minimum
        if readable and _bucket_count(first, last, width) <= max_points:
            return width // step
    # Epoch alignment can add a partial bucket at each end: grow until the real count fits.
    factor = minimum
    while _bucket_count(first, last, factor * step) > max_points:
        factor += 1
    return factor


def _bucket_count(first_ms: int, last_ms: int, bucket_ms: int) -> int:
    return last_ms // bucket_ms - first_ms // bucket_ms + 1


def downsample_bars(bars: Bars, max_points: int) -> Downsampled:
    """Aggregate `bars` into coarser OHLCV buckets so at most `max_points` remain."""
    factor = bucket_factor(bars, max_points)
    n = len(bars)
    if factor == 1:
        index = np.arange(n, dtype=np.int64)
        return Downsampled(bars, 1, n, index, index)
    bucket_ms = factor * timeframe_ms(bars.timeframe)
    bucket_id = bars.timestamps // bucket_ms
    starts = np.concatenate(([0], np.flatnonzero(np.diff(bucket_id)) + 1)).astype(np.int64)
    ends = np.concatenate((starts[1:], [n])).astype(np.int64) - 1
    aggregated = Bars.from_arrays(
        bucket_id[starts] * bucket_ms,
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[ends],
        np.add.reduceat(bars.volume, starts),
        symbol=bars.symbol,
        timeframe=bars.timeframe,
    )
    return Downsampled(aggregated, factor, n, starts, ends)


def last_in_bucket(series: np.ndarray, sampled: Downsampled) -> np.ndarray:
    """`series` (aligned with the source bars) reduced to the value at each bucket's last bar."""
    if len(series) != sampled.source_bars:
        raise ValueError(f"series has {len(series)} values, expected {sampled.source_bars}")
    return np.asarray(series)[sampled.last_index]
