"""Chart data for one instrument, timeframe and range, from stored candles.

Guarantees: indicators are computed on the full-resolution bars (with enough
bars loaded before the range for them to be settled at its start), THEN the
range is downsampled to at most `max_points` candles and each indicator series
is reduced to its value at each bucket's last bar. Nothing is interpolated:
gaps in the stored data stay gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trading.charts.downsample import Downsampled, downsample_bars, last_in_bucket
from trading.charts.indicator_specs import IndicatorSpec, warmup_bars
from trading.engine.market import Bars, timeframe_ms
from trading.selectors import candle_arrays


@dataclass(frozen=True)
class ChartRequest:
    timeframe: str
    start_ms: int | None = None  # inclusive; None = from the first stored bar
    end_ms: int | None = None  # exclusive; None = through the newest stored bar
    indicators: tuple[IndicatorSpec, ...] = ()


@dataclass(frozen=True, eq=False)
class SeriesSet:
    """The outputs of one indicator, aligned with the displayed candles."""

    spec: IndicatorSpec
    outputs: dict[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class ChartData:
    instrument_id: int
    title: str
    request: ChartRequest
    sampled: Downsampled
    series: list[SeriesSet] = field(default_factory=list)

    @property
    def candles(self) -> Bars:
        return self.sampled.bars

    @property
    def note(self) -> str:
        """What the reader must know about downsampling ('' when every bar is shown)."""
        sampled = self.sampled
        if not sampled.is_downsampled:
            return ""
        return (
            f"Downsampled: {sampled.source_bars:,} {self.request.timeframe} bars shown as "
            f"{len(sampled.bars):,} candles of {duration_label(sampled.bucket_ms)}; "
            "zoom in for full resolution"
        )

    @property
    def follows_latest(self) -> bool:
        """True when the chart ends at the newest stored bar (live candles extend it)."""
        return self.request.end_ms is None


def duration_label(ms: int) -> str:
    """3_600_000 -> '1h', 172_800_000 -> '2d'."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 1000:g}s"


def indicator_bars(
    instrument_id: int,
    timeframe: str,
    specs: list[IndicatorSpec] | tuple[IndicatorSpec, ...],
    *,
    start_ms: int | None,
    end_ms: int | None,
) -> tuple[Bars, dict[str, dict[str, np.ndarray]]]:
    """Bars of [start_ms, end_ms) and each spec's outputs on them, computed with warm-up."""
    warmup = warmup_bars(list(specs), timeframe)
    load_from = None if start_ms is None else max(0, start_ms - warmup * timeframe_ms(timeframe))
    loaded = candle_arrays(instrument_id, timeframe, start_ms=load_from, end_ms=end_ms)
    computed = {spec.key: spec.compute(loaded) for spec in specs}
    first = 0 if start_ms is None else int(np.searchsorted(loaded.timestamps, start_ms))
    bars = loaded.slice(first, len(loaded))
    trimmed = {
        key: {name: values[first:] for name, values in outputs.items()}
        for key, outputs in computed.items()
    }
    return bars, trimmed


def chart_data_load(
    *, instrument_id: int, title: str, request: ChartRequest, max_points: int
) -> ChartData:
    bars, computed = indicator_bars(
        instrument_id,
        request.timeframe,
        request.indicators,
        start_ms=request.start_ms,
        end_ms=request.end_ms,
    )
    sampled = downsample_bars(bars, max_points)
    series = [
        SeriesSet(
            spec,
            {name: last_in_bucket(values, sampled) for name, values in computed[spec.key].items()},
        )
        for spec in request.indicators
    ]
    return ChartData(instrument_id, title, request, sampled, series)
