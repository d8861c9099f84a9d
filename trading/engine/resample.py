"""Resample closed bars to a higher timeframe (1h -> 4h, 1d, ...).

Guarantees:
- Target bars are aligned to UTC boundaries (epoch multiples of the target
  length: 00:00/04:00/... for 4h, midnight UTC for 1d).
- Aggregation: open = first source open, high = max, low = min, close = last
  close, volume = sum; funding (when present) = the value known at the target
  bar's open, i.e. the first source bar's.
- Nothing is invented: a target bar is built only from source bars that exist.
  A target bar with no source bar at all is not emitted (it is a gap of the
  result). A target bar missing some source bars inside the data's range is
  kept and reported in `incomplete`; at the edges of the data (the series
  starts or ends part-way through a target bar) the partial bar is dropped by
  default (`edge_partial="drop"`, listed in `dropped_edges`) or kept and
  flagged (`edge_partial="flag"`).
- `complete[i]` is true iff target bar i aggregates every source bar it spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from trading.engine.market import Bars, timeframe_ms

EdgePartial = Literal["drop", "flag"]


@dataclass(frozen=True)
class IncompleteBar:
    """A target bar that spans `expected` source bars but only `present` exist."""

    open_time: int
    expected: int
    present: int
    at_edge: bool


@dataclass(frozen=True, eq=False)
class ResampledBars:
    bars: Bars
    source_counts: np.ndarray  # int64: source bars aggregated into each target bar
    complete: np.ndarray  # bool
    incomplete: tuple[IncompleteBar, ...]  # kept target bars with missing source bars
    dropped_edges: tuple[IncompleteBar, ...]  # partial edge bars left out (edge_partial="drop")

    @property
    def missing_source_bars(self) -> int:
        """Source bars missing inside the kept target bars."""
        return sum(b.expected - b.present for b in self.incomplete)


def resample_bars(
    bars: Bars, target_timeframe: str, *, edge_partial: EdgePartial = "drop"
) -> ResampledBars:
    """Aggregate `bars` (strictly increasing, on their own grid) into `target_timeframe`."""
    if edge_partial not in ("drop", "flag"):
        raise ValueError(f"edge_partial must be 'drop' or 'flag', got {edge_partial!r}")
    source_ms = timeframe_ms(bars.timeframe)
    target_ms = timeframe_ms(target_timeframe)
    _check_source(bars, source_ms, target_ms, target_timeframe)
    per_bar = target_ms // source_ms
    bucket = bars.timestamps - bars.timestamps % target_ms
    starts = np.flatnonzero(np.concatenate([[True], bucket[1:] != bucket[:-1]])) if len(bars) \
        else np.zeros(0, dtype=np.int64)
    opens = bucket[starts]
    counts = np.diff(np.append(starts, len(bars))).astype(np.int64)
    edges = _edge_mask(bars, opens, counts, per_bar, source_ms, target_ms)
    keep = ~edges if edge_partial == "drop" else np.ones(len(starts), dtype=bool)
    aggregated = _aggregate(bars, starts, opens, target_timeframe)
    return ResampledBars(
        bars=_select(aggregated, keep),
        source_counts=counts[keep],
        complete=counts[keep] == per_bar,
        incomplete=_incomplete(opens, counts, per_bar, edges, keep & (counts < per_bar)),
        dropped_edges=_incomplete(opens, counts, per_bar, edges, ~keep),
    )


def _check_source(bars: Bars, source_ms: int, target_ms: int, target: str) -> None:
    if target_ms <= source_ms or target_ms % source_ms:
        raise ValueError(f"cannot resample {bars.timeframe} to {target}: the target must be a "
                         "whole multiple of the source timeframe")
    ts = bars.timestamps
    if len(ts) > 1 and not np.all(ts[1:] > ts[:-1]):
        raise ValueError("source bars must be strictly increasing in time")
    if len(ts) and np.any(ts % source_ms):
        raise ValueError(f"source timestamps are not on the {bars.timeframe} grid")


def _edge_mask(
    bars: Bars, opens: np.ndarray, counts: np.ndarray, per_bar: int, source_ms: int,
    target_ms: int,
) -> np.ndarray:
    """Target bars cut by the start or the end of the data (not by a gap inside it)."""
    edges = np.zeros(len(opens), dtype=bool)
    if len(opens) == 0:
        return edges
    edges[0] = bars.timestamps[0] > opens[0]
    edges[-1] |= bars.timestamps[-1] + source_ms < opens[-1] + target_ms
    return edges & (counts < per_bar)


def _incomplete(
    opens: np.ndarray, counts: np.ndarray, per_bar: int, edges: np.ndarray, which: np.ndarray
) -> tuple[IncompleteBar, ...]:
    return tuple(
        IncompleteBar(int(opens[i]), per_bar, int(counts[i]), bool(edges[i]))
        for i in np.flatnonzero(which)
    )


def _aggregate(bars: Bars, starts: np.ndarray, opens: np.ndarray, target: str) -> Bars:
    """One target bar per run of source bars beginning at `starts`."""
    if len(starts) == 0:
        empty = np.zeros(0)
        return Bars.from_arrays(opens, empty, empty, empty, empty, empty, symbol=bars.symbol,
                                timeframe=target)
    ends = np.append(starts[1:], len(bars)) - 1
    return Bars.from_arrays(
        opens,
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[ends],
        np.add.reduceat(bars.volume, starts),
        symbol=bars.symbol,
        timeframe=target,
        funding_rate=None if bars.funding_rate is None else bars.funding_rate[starts],
    )


def _select(bars: Bars, mask: np.ndarray) -> Bars:
    return Bars.from_arrays(
        bars.timestamps[mask], bars.open[mask], bars.high[mask], bars.low[mask],
        bars.close[mask], bars.volume[mask], symbol=bars.symbol, timeframe=bars.timeframe,
        funding_rate=None if bars.funding_rate is None else bars.funding_rate[mask],
    )
