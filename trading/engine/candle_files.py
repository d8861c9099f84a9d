"""Read candle and funding files (CSV, CSV.gz, Parquet) in the shared/data format.

Candle columns: `timestamp` (bar open time), `open, high, low, close, volume`.
Funding columns: `timestamp, funding_rate`. Names are matched case-insensitively;
`open_time`, `time`, `date` and `datetime` are accepted for `timestamp`.

Timestamps may be integer milliseconds (the shared/data format), integer
seconds, microseconds or nanoseconds (the unit is read from the magnitude,
1990..2200, and every row must use the same unit), ISO 8601 strings, or a
Parquet timestamp column; anything but milliseconds is converted and said so in
`notes`. Naive datetimes are taken as UTC (also noted).

Guarantees: reading never drops, reorders, rounds or fills a row. Anything that
cannot be read exactly as the file states (a missing column, an unparsable or
empty cell, a malformed CSV line, a non-integral numeric timestamp) becomes a
`RowProblem` naming the 1-based data row (row 1 = the first line after the
header, i.e. file line 2), and a file with problems must be rejected whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trading.engine.quality import RowProblem

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
TIMESTAMP_ALIASES = ("timestamp", "open_time", "time", "date", "datetime")
# (unit name, ms per unit, smallest and largest value meaning 1990-01-01 .. 2200-01-01)
_EPOCH_1990_MS = 631_152_000_000
_EPOCH_2200_MS = 7_258_118_400_000
_UNITS = (
    ("seconds", 1e-3),
    ("milliseconds", 1.0),
    ("microseconds", 1e3),
    ("nanoseconds", 1e6),
)


@dataclass(frozen=True, eq=False)
class CandleFile:
    path: str
    file_format: str  # csv, csv.gz, parquet
    timestamp_format: str  # milliseconds, seconds, microseconds, nanoseconds, iso8601, datetime
    timestamps: np.ndarray  # int64 ms (0 where unreadable)
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    problems: tuple[RowProblem, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def rows(self) -> int:
        return len(self.timestamps)

    @property
    def rejected(self) -> bool:
        return bool(self.problems)


@dataclass(frozen=True, eq=False)
class FundingFile:
    path: str
    file_format: str
    timestamp_format: str
    timestamps: np.ndarray  # int64 ms
    rates: np.ndarray  # float64
    problems: tuple[RowProblem, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def rows(self) -> int:
        return len(self.timestamps)

    @property
    def rejected(self) -> bool:
        return bool(self.problems)


def file_format_of(path: str | Path) -> str:
    name = str(path).lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv.gz", ".gz")):
        return "csv.gz"
    if name.endswith(".csv"):
        return "csv"
    raise ValueError(f"{path}: unsupported file type (expected .csv, .csv.gz or .parquet)")


def read_candle_file(path: str | Path) -> CandleFile:
    """Candles of `path`; `problems` lists every structural error (then reject the file)."""
    fmt, frame, problems = _read_frame(path)
    ts_col, columns, missing = _columns(frame, CANDLE_COLUMNS)
    problems += missing
    n = 0 if frame is None else len(frame)
    if frame is not None and n == 0 and not problems:
        problems.append(RowProblem(0, "", "no data rows"))
    if problems:
        empty = np.zeros(n)
        return CandleFile(str(path), fmt, "unknown", empty.astype(np.int64), empty, empty,
                          empty, empty, empty, tuple(problems))
    assert frame is not None and ts_col is not None
    timestamps, ts_format, ts_problems, notes = parse_timestamps(frame[ts_col])
    values = {name: _parse_numbers(frame[columns[name]], name) for name in CANDLE_COLUMNS}
    cell_problems = [p for _, col_problems in values.values() for p in col_problems]
    return CandleFile(
        path=str(path),
        file_format=fmt,
        timestamp_format=ts_format,
        timestamps=timestamps,
        **{name: values[name][0] for name in CANDLE_COLUMNS},
        problems=tuple(sorted(ts_problems + cell_problems, key=lambda p: p.row)),
        notes=tuple(notes),
    )


def read_funding_file(path: str | Path) -> FundingFile:
    """Funding rates of `path`; `problems` lists every structural error."""
    fmt, frame, problems = _read_frame(path)
    ts_col, columns, missing = _columns(frame, ("funding_rate",))
    problems += missing
    n = 0 if frame is None else len(frame)
    if frame is not None and n == 0 and not problems:
        problems.append(RowProblem(0, "", "no data rows"))
    if problems:
        empty = np.zeros(n)
        return FundingFile(str(path), fmt, "unknown", empty.astype(np.int64), empty,
                           tuple(problems))
    assert frame is not None and ts_col is not None
    timestamps, ts_format, ts_problems, notes = parse_timestamps(frame[ts_col])
    rates, rate_problems = _parse_numbers(frame[columns["funding_rate"]], "funding_rate")
    return FundingFile(
        path=str(path),
        file_format=fmt,
        timestamp_format=ts_format,
        timestamps=timestamps,
        rates=rates,
        problems=tuple(sorted(ts_problems + rate_problems, key=lambda p: p.row)),
        notes=tuple(notes),
    )


def _read_frame(path: str | Path) -> tuple[str, pd.DataFrame | None, list[RowProblem]]:
    try:
        fmt = file_format_of(path)
    except ValueError as exc:
        return "unknown", None, [RowProblem(0, "", str(exc))]
    try:
        if fmt == "parquet":
            return fmt, pd.read_parquet(path), []
        return fmt, pd.read_csv(path, skipinitialspace=True), []
    except FileNotFoundError:
        return fmt, None, [RowProblem(0, "", f"{path}: no such file")]
    except pd.errors.EmptyDataError:
        return fmt, None, [RowProblem(0, "", "file is empty")]
    except pd.errors.ParserError as exc:
        return fmt, None, [_parser_problem(exc)]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return fmt, None, [RowProblem(0, "", f"cannot read {fmt} file: {exc}")]


def _parser_problem(exc: Exception) -> RowProblem:
    """pandas reports 'Expected 6 fields in line 7, saw 8': line 7 is data row 6."""
    found = re.search(r"line (\d+)", str(exc))
    row = int(found.group(1)) - 1 if found else 0
    return RowProblem(row, "", f"malformed CSV line: {str(exc).strip()}")


def _columns(
    frame: pd.DataFrame | None, wanted: tuple[str, ...]
) -> tuple[str | None, dict[str, str], list[RowProblem]]:
    """Map wanted names (and the timestamp) to the frame's actual column names."""
    if frame is None:
        return None, {}, []
    by_lower = {str(c).strip().lower(): c for c in frame.columns}
    ts_col = next((by_lower[a] for a in TIMESTAMP_ALIASES if a in by_lower), None)
    columns = {name: by_lower[name] for name in wanted if name in by_lower}
    absent = ([] if ts_col is not None else ["timestamp"]) + [n for n in wanted if n not in columns]
    problems = [
        RowProblem(0, name, f"missing column (found: {', '.join(map(str, frame.columns))})")
        for name in absent
    ]
    return ts_col, columns, problems


def _parse_numbers(column: pd.Series, name: str) -> tuple[np.ndarray, list[RowProblem]]:
    """float64 values; empty, unparsable and non-finite cells become problems."""
    if pd.api.types.is_bool_dtype(column):
        return np.zeros(len(column)), [RowProblem(0, name, "column holds booleans, not numbers")]
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        raw = None
    else:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        raw = column
    problems = []
    for i in np.flatnonzero(~np.isfinite(values)):
        original = raw.iloc[i] if raw is not None else values[i]
        if pd.isna(original):
            message = "missing value"
        elif raw is not None and np.isnan(values[i]):
            message = f"unparsable value {original!r}"
        else:
            message = f"value {original} is not finite"
        problems.append(RowProblem(int(i) + 1, name, message))
    return values, problems


def parse_timestamps(column: pd.Series) -> tuple[np.ndarray, str, list[RowProblem], list[str]]:
    """(int64 ms, format name, problems, notes) for a timestamp column."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return _from_datetimes(column, "datetime", [])
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return _from_numbers(column.to_numpy(dtype=np.float64, na_value=np.nan))
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().sum() * 2 >= column.notna().sum():  # mostly numbers: an epoch column
        ms, fmt, problems, notes = _from_numbers(numbers.to_numpy(dtype=np.float64,
                                                                  na_value=np.nan))
        for i in np.flatnonzero((numbers.isna() & column.notna()).to_numpy()):
            problems = [p if p.row != i + 1 else
                        RowProblem(p.row, "timestamp", f"unparsable value {column.iloc[i]!r}")
                        for p in problems]
        return ms, fmt, problems, notes
    parsed = pd.to_datetime(column, utc=True, format="ISO8601", errors="coerce")
    problems = [
        RowProblem(int(i) + 1, "timestamp",
                   "missing value" if pd.isna(column.iloc[i])
                   else f"unparsable datetime {column.iloc[i]!r}")
        for i in np.flatnonzero(parsed.isna().to_numpy())
    ]
    naive = _has_naive_strings(column)
    notes = ["timestamps parsed as ISO 8601 datetimes"
             + (" (values without an offset taken as UTC)" if naive else "")]
    return _from_datetimes(parsed, "iso8601", problems, notes)


def _has_naive_strings(column: pd.Series) -> bool:
    sample = column.dropna().astype(str).head(100)
    return bool((~sample.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)).any())


def _from_datetimes(
    column: pd.Series, fmt: str, problems: list[RowProblem], notes: list[str] | None = None
) -> tuple[np.ndarray, str, list[RowProblem], list[str]]:
    notes = list(notes or [])
    if column.dt.tz is None:
        column = column.dt.tz_localize("UTC")
        notes.append("naive datetimes taken as UTC")
    ok = column.notna().to_numpy()
    ns = np.zeros(len(column), dtype=np.int64)
    ns[ok] = column[ok].dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy()
    known = {p.row for p in problems}
    problems = problems + [
        RowProblem(int(i) + 1, "timestamp", "missing value")
        for i in np.flatnonzero(~ok)
        if int(i) + 1 not in known
    ]
    problems += [RowProblem(int(i) + 1, "timestamp", "sub-millisecond timestamp")
                 for i in np.flatnonzero(ok & (ns % 1_000_000 != 0))]
    return ns // 1_000_000, fmt, sorted(problems, key=lambda p: p.row), notes


def _unit_of(value: float) -> tuple[str, float] | None:
    for name, per_ms in _UNITS:
        if _EPOCH_1990_MS * per_ms <= abs(value) < _EPOCH_2200_MS * per_ms:
            return name, per_ms
    return None


def _from_numbers(values: np.ndarray) -> tuple[np.ndarray, str, list[RowProblem], list[str]]:
    """Numeric epochs: one unit for the whole column, read from its magnitude."""
    finite = np.isfinite(values)
    problems = [RowProblem(int(i) + 1, "timestamp", "missing value")
                for i in np.flatnonzero(~finite)]
    unit = _unit_of(float(np.nanmax(np.abs(values)))) if finite.any() else None
    if unit is None:
        problems.append(RowProblem(0, "timestamp", "numeric timestamps are not epoch seconds, "
                                   "milliseconds, microseconds or nanoseconds between 1990 "
                                   "and 2200"))
        return np.zeros(len(values), dtype=np.int64), "unknown", problems, []
    name, per_ms = unit
    low, high = _EPOCH_1990_MS * per_ms, _EPOCH_2200_MS * per_ms
    with np.errstate(invalid="ignore"):
        wrong_unit = finite & ((values < low) | (values >= high))
        fractional = finite & ~wrong_unit & (values != np.round(values))
    problems += [RowProblem(int(i) + 1, "timestamp", f"{values[i]:.0f} is not in {name} like "
                            "the rest of the column") for i in np.flatnonzero(wrong_unit)]
    problems += [RowProblem(int(i) + 1, "timestamp", f"{values[i]!r} is not a whole number of "
                            f"{name}") for i in np.flatnonzero(fractional)]
    ms = np.zeros(len(values), dtype=np.int64)
    good = finite & ~wrong_unit & ~fractional
    whole = values[good].astype(np.int64)
    ms[good] = whole * 1000 if name == "seconds" else whole // int(per_ms)
    notes = [] if name == "milliseconds" else [f"timestamps read as epoch {name}, converted to ms"]
    if name in ("microseconds", "nanoseconds"):
        lossy = good.copy()
        lossy[good] = whole % int(per_ms) != 0
        problems += [RowProblem(int(i) + 1, "timestamp", "sub-millisecond timestamp")
                     for i in np.flatnonzero(lossy)]
    return ms, name, sorted(problems, key=lambda p: p.row), notes
