"""Data-quality checks on OHLCV and funding arrays.

Guarantees:
- Checks only read: the arrays are never modified, sorted or filled in.
- Every finding names the rows it concerns as 1-based data-row numbers in the
  order the rows were given (row 1 = the first row after a file's header).
- Structural problems (missing columns, unparsable values, NaN/inf prices or
  volumes, timestamps off the timeframe grid, two rows with the same timestamp
  but different values) make the findings `rejected`: nothing should be
  stored. Everything else (gaps, exact duplicates, out-of-order rows, OHLC
  inconsistencies, non-positive prices, negative or zero volume, outlier
  returns) is a warning: stored as-is, reported, never silently fixed.
- Gaps are measured on the distinct timestamps in time order: a gap is a run
  of missing bars between two present bars, given as first/last missing open
  time and the number of missing bars.
- Outlier returns are close-to-close log returns r with
  |r| > k * 1.4826 * median(|r|) over a centred rolling window (a robust,
  zero-centred MAD), computed in time order on bars with positive closes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

Status = Literal["ok", "warnings", "rejected"]
PRICE_COLUMNS = ("open", "high", "low", "close")
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class RowProblem:
    """One structural problem. `row` 0 means the input as a whole (e.g. a missing column)."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row > 0 else "file"
        column = f" {self.column}" if self.column else ""
        return f"{where}{column}: {self.message}"


@dataclass(frozen=True)
class Gap:
    """Bars missing between two present bars (open times in ms)."""

    first_missing: int
    last_missing: int
    missing_bars: int


@dataclass(frozen=True)
class OutlierReturn:
    row: int
    open_time: int
    log_return: float
    threshold: float


@dataclass(frozen=True)
class OutlierRule:
    """|log return| > k * robust sigma over a centred window of `window` returns."""

    k: float = 15.0
    window: int = 500
    min_periods: int = 50


@dataclass(frozen=True)
class QualityFindings:
    rows: int
    interval_ms: int
    first_time: int | None = None
    last_time: int | None = None
    structural: tuple[RowProblem, ...] = ()
    gaps: tuple[Gap, ...] = ()
    duplicate_rows: tuple[int, ...] = ()
    non_monotonic_rows: tuple[int, ...] = ()
    ohlc_inconsistent_rows: tuple[int, ...] = ()
    non_positive_price_rows: tuple[int, ...] = ()
    negative_volume_rows: tuple[int, ...] = ()
    zero_volume_rows: tuple[int, ...] = ()
    outliers: tuple[OutlierReturn, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def rejected(self) -> bool:
        return bool(self.structural)

    @property
    def gap_count(self) -> int:
        return len(self.gaps)

    @property
    def missing_bars(self) -> int:
        return sum(g.missing_bars for g in self.gaps)

    @property
    def status(self) -> Status:
        if self.rejected:
            return "rejected"
        return "warnings" if self.warnings() else "ok"

    def counts(self) -> dict[str, int]:
        """Counts keyed like the stored quality report's fields."""
        return {
            "gap_count": self.gap_count,
            "missing_bars": self.missing_bars,
            "duplicates": len(self.duplicate_rows),
            "non_monotonic": len(self.non_monotonic_rows),
            "ohlc_inconsistent": len(self.ohlc_inconsistent_rows),
            "non_positive_prices": len(self.non_positive_price_rows),
            "negative_volume": len(self.negative_volume_rows),
            "zero_volume": len(self.zero_volume_rows),
            "outlier_returns": len(self.outliers),
        }

    def warnings(self) -> list[str]:
        """One human line per kind of non-structural finding."""
        labels = {
            "gap_count": "gaps ({missing_bars} missing bars)",
            "duplicates": "duplicate rows (identical, kept once)",
            "non_monotonic": "rows out of time order",
            "ohlc_inconsistent": "bars with inconsistent OHLC",
            "non_positive_prices": "bars with a non-positive price",
            "negative_volume": "bars with negative volume",
            "zero_volume": "zero-volume bars",
            "outlier_returns": "outlier returns",
        }
        counts = self.counts()
        return [
            f"{counts[key]} " + label.format(**counts)
            for key, label in labels.items()
            if counts[key]
        ]

    def summary(self) -> list[str]:
        if self.rejected:
            lines = [f"REJECTED: {len(self.structural)} structural problem(s); nothing stored"]
            return lines + [str(p) for p in self.structural[:50]]
        lines = [f"{self.rows} rows, status {self.status}"]
        return lines + self.warnings() + list(self.notes)

    def as_details(self, limit: int = 200) -> dict[str, Any]:
        """JSON-ready details, each list capped at `limit` entries (counts stay exact)."""
        return {
            "structural": [str(p) for p in self.structural[:limit]],
            "structural_rows": sorted({p.row for p in self.structural if p.row > 0})[:limit],
            "gaps": [
                {"first_missing": g.first_missing, "last_missing": g.last_missing,
                 "missing_bars": g.missing_bars}
                for g in self.gaps[:limit]
            ],
            "duplicate_rows": list(self.duplicate_rows[:limit]),
            "non_monotonic_rows": list(self.non_monotonic_rows[:limit]),
            "ohlc_inconsistent_rows": list(self.ohlc_inconsistent_rows[:limit]),
            "non_positive_price_rows": list(self.non_positive_price_rows[:limit]),
            "negative_volume_rows": list(self.negative_volume_rows[:limit]),
            "zero_volume_rows": list(self.zero_volume_rows[:limit]),
            "outliers": [
                {"row": o.row, "open_time": o.open_time, "log_return": o.log_return,
                 "threshold": o.threshold}
                for o in self.outliers[:limit]
            ],
            "notes": list(self.notes),
        }


def _rows(mask: np.ndarray) -> tuple[int, ...]:
    """1-based row numbers where `mask` is true."""
    return tuple(int(i) + 1 for i in np.flatnonzero(mask))


def non_finite_problems(columns: dict[str, np.ndarray]) -> list[RowProblem]:
    """NaN or infinite values, one problem per offending cell."""
    problems: list[RowProblem] = []
    for name, values in columns.items():
        for row in _rows(~np.isfinite(values)):
            value = values[row - 1]
            problems.append(RowProblem(row, name, "missing value (NaN)" if np.isnan(value)
                                       else f"value {value} is not finite"))
    return problems


def off_grid_problems(timestamps: np.ndarray, interval_ms: int) -> list[RowProblem]:
    """Timestamps that are not bar open times of the timeframe (UTC-aligned)."""
    return [
        RowProblem(row, "timestamp", f"{int(timestamps[row - 1])} is not on the "
                   f"{interval_ms} ms bar grid (wrong timeframe or shifted times?)")
        for row in _rows(timestamps % interval_ms != 0)
    ]


def _duplicates(
    timestamps: np.ndarray, values: np.ndarray | None
) -> tuple[tuple[int, ...], list[RowProblem]]:
    """Rows repeating an earlier timestamp: identical ones (warning) and conflicting ones."""
    order = np.argsort(timestamps, kind="stable")
    sorted_ts = timestamps[order]
    repeat = np.flatnonzero(sorted_ts[1:] == sorted_ts[:-1]) + 1
    if len(repeat) == 0:
        return (), []
    # the first occurrence of each repeated timestamp, in sorted position
    first_pos = np.searchsorted(sorted_ts, sorted_ts[repeat], side="left")
    dup_rows = order[repeat]
    first_rows = order[first_pos]
    identical: list[int] = []
    problems: list[RowProblem] = []
    for dup, first in zip(dup_rows.tolist(), first_rows.tolist(), strict=True):
        same = values is None or bool(np.array_equal(values[dup], values[first], equal_nan=True))
        if same:
            identical.append(dup + 1)
        else:
            problems.append(RowProblem(dup + 1, "timestamp", f"same timestamp as row {first + 1} "
                                       "with different values"))
    return tuple(sorted(identical)), problems


def find_gaps(timestamps: np.ndarray, interval_ms: int) -> tuple[Gap, ...]:
    """Runs of missing bars between the distinct timestamps (any order, duplicates allowed)."""
    distinct = np.unique(timestamps)
    if len(distinct) < 2:
        return ()
    steps = np.diff(distinct)
    at = np.flatnonzero(steps >= 2 * interval_ms)
    return tuple(
        Gap(
            first_missing=int(distinct[i]) + interval_ms,
            last_missing=int(distinct[i + 1]) - interval_ms,
            missing_bars=int(steps[i] // interval_ms) - 1,
        )
        for i in at
    )


def find_outlier_returns(
    timestamps: np.ndarray, close: np.ndarray, rule: OutlierRule
) -> tuple[OutlierReturn, ...]:
    """Close-to-close log returns beyond `rule.k` robust sigmas, in time order."""
    order = np.argsort(timestamps, kind="stable")
    ok = close[order] > 0
    idx = order[ok]
    if len(idx) < 3:
        return ()
    returns = np.diff(np.log(close[idx]))
    scale = (
        pd.Series(np.abs(returns))
        .rolling(rule.window, center=True, min_periods=min(rule.min_periods, len(returns)))
        .median()
        .to_numpy()
    )
    threshold = rule.k * MAD_TO_SIGMA * scale
    with np.errstate(invalid="ignore"):
        hits = np.flatnonzero((scale > 0) & (np.abs(returns) > threshold))
    return tuple(
        OutlierReturn(
            row=int(idx[i + 1]) + 1,
            open_time=int(timestamps[idx[i + 1]]),
            log_return=float(returns[i]),
            threshold=float(threshold[i]),
        )
        for i in hits
    )


def _ohlc_inconsistent(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray) -> np.ndarray:
    return (h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (h < low)


def check_candles(
    timestamps: np.ndarray,
    open: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    *,
    interval_ms: int,
    structural: Iterable[RowProblem] = (),
    outlier_rule: OutlierRule = OutlierRule(),
    notes: Iterable[str] = (),
) -> QualityFindings:
    """All checks on one batch of candles. `structural` adds problems found while parsing.

    With any structural problem the findings are `rejected` and the other checks are
    skipped: they would be computed on values that are not what the source meant.
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    prices = {"open": open, "high": high, "low": low, "close": close}
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in {**prices, "volume": volume}.items()}
    problems = list(structural)
    if not problems:
        problems = non_finite_problems(arrays) + off_grid_problems(ts, interval_ms)
    stacked = np.column_stack([arrays[k] for k in ("open", "high", "low", "close", "volume")])
    duplicates, conflicts = _duplicates(ts, stacked) if not problems else ((), [])
    problems += conflicts
    bounds = _bounds(ts)
    if problems:
        return QualityFindings(len(ts), interval_ms, *bounds, structural=tuple(problems),
                               notes=tuple(notes))
    o, h, lo, c, v = (arrays[k] for k in ("open", "high", "low", "close", "volume"))
    return QualityFindings(
        rows=len(ts),
        interval_ms=interval_ms,
        first_time=bounds[0],
        last_time=bounds[1],
        gaps=find_gaps(ts, interval_ms),
        duplicate_rows=duplicates,
        non_monotonic_rows=_rows(np.concatenate([[False], ts[1:] < ts[:-1]])),
        ohlc_inconsistent_rows=_rows(_ohlc_inconsistent(o, h, lo, c)),
        non_positive_price_rows=_rows((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0)),
        negative_volume_rows=_rows(v < 0),
        zero_volume_rows=_rows(v == 0),
        outliers=find_outlier_returns(ts, c, outlier_rule),
        notes=tuple(notes),
    )


def check_funding(
    timestamps: np.ndarray,
    rates: np.ndarray,
    *,
    interval_ms: int = 8 * 3_600_000,
    structural: Iterable[RowProblem] = (),
    notes: Iterable[str] = (),
) -> QualityFindings:
    """Funding-rate checks: NaN rates and conflicting duplicates reject; gaps
    (against the expected funding interval), identical duplicates and out-of-order
    rows are warnings. Funding times are not required to sit on a grid."""
    ts = np.asarray(timestamps, dtype=np.int64)
    values = np.asarray(rates, dtype=np.float64)
    problems = list(structural) or non_finite_problems({"funding_rate": values})
    duplicates, conflicts = _duplicates(ts, values.reshape(-1, 1)) if not problems else ((), [])
    problems += conflicts
    bounds = _bounds(ts)
    if problems:
        return QualityFindings(len(ts), interval_ms, *bounds, structural=tuple(problems),
                               notes=tuple(notes))
    return QualityFindings(
        rows=len(ts),
        interval_ms=interval_ms,
        first_time=bounds[0],
        last_time=bounds[1],
        gaps=find_gaps(ts, interval_ms),
        duplicate_rows=duplicates,
        non_monotonic_rows=_rows(np.concatenate([[False], ts[1:] < ts[:-1]])),
        notes=tuple(notes),
    )


def _bounds(ts: np.ndarray) -> tuple[int | None, int | None]:
    if len(ts) == 0:
        return None, None
    return int(ts.min()), int(ts.max())
