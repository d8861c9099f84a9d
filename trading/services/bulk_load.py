"""Idempotent bulk writes of candles and funding rates.

PostgreSQL: rows are streamed with binary COPY into a session temp table, then moved
with INSERT ... SELECT ... ON CONFLICT DO NOTHING, chunk by chunk (so progress
can be shown). SQLite: the rows not already stored are written with batched
`bulk_create(ignore_conflicts=True)`.

Guarantees: existing rows are never changed; a row whose key is already
stored (or repeats an earlier row of the same load) is counted as existing;
the whole load is one transaction (a savepoint when called inside one).
Values are written exactly (binary COPY of int64 / float64).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection, transaction

from trading.models import Candle, FundingRate

Progress = Callable[[int, int], None]
CHUNK_ROWS = 25_000
SQLITE_BATCH = 2_000


@dataclass(frozen=True)
class LoadResult:
    rows: int  # rows given
    inserted: int
    existing: int  # distinct keys that were already stored
    latest_inserted: int | None  # greatest time among the inserted rows


@dataclass(frozen=True)
class _Target:
    model: type[Candle] | type[FundingRate]
    time_column: str
    value_columns: tuple[str, ...]
    fixed: dict[str, object]  # key columns common to every row (instrument_id, timeframe)


def candle_rows_load(
    *,
    instrument_id: int,
    timeframe: str,
    timestamps: np.ndarray,
    values: dict[str, np.ndarray],
    progress: Progress | None = None,
) -> LoadResult:
    """Store candles; `values` holds the open/high/low/close/volume arrays."""
    target = _Target(Candle, "open_time", ("open", "high", "low", "close", "volume"),
                     {"instrument_id": instrument_id, "timeframe": timeframe})
    return _load(target, timestamps, values, progress)


def funding_rows_load(
    *,
    instrument_id: int,
    timestamps: np.ndarray,
    rates: np.ndarray,
    progress: Progress | None = None,
) -> LoadResult:
    target = _Target(FundingRate, "funding_time", ("rate",), {"instrument_id": instrument_id})
    return _load(target, timestamps, {"rate": rates}, progress)


def _load(
    target: _Target, timestamps: np.ndarray, values: dict[str, np.ndarray],
    progress: Progress | None,
) -> LoadResult:
    ts = np.asarray(timestamps, dtype=np.int64)
    frame = pd.DataFrame({target.time_column: ts})
    for name in target.value_columns:
        frame[name] = np.asarray(values[name], dtype=np.float64)
    distinct = len(np.unique(ts))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            inserted, latest = _postgres_load(target, frame, progress)
        else:
            inserted, latest = _sqlite_load(target, frame, progress)
    return LoadResult(len(ts), inserted, distinct - inserted, latest)


def _postgres_load(
    target: _Target, frame: pd.DataFrame, progress: Progress | None
) -> tuple[int, int | None]:
    table = target.model._meta.db_table
    temp = f"load_{table}"
    columns = (target.time_column, *target.value_columns)
    fixed_names = list(target.fixed)
    key = ", ".join([*fixed_names, target.time_column])
    all_columns = ", ".join([*fixed_names, *columns])
    column_defs = ", ".join(
        [f"{target.time_column} bigint"] + [f"{c} double precision" for c in target.value_columns]
    )
    placeholders = ", ".join(["%s"] * len(fixed_names))
    insert = (
        f"WITH ins AS (INSERT INTO {table} ({all_columns}) "
        f"SELECT {placeholders}, {', '.join(columns)} FROM {temp} ORDER BY {target.time_column} "
        f"ON CONFLICT ({key}) DO NOTHING RETURNING {target.time_column}) "
        f"SELECT count(*), max({target.time_column}) FROM ins"
    )
    inserted, latest = 0, None
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} ({column_defs}) ON COMMIT DROP")
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start:start + CHUNK_ROWS]
            cursor.execute(f"TRUNCATE {temp}")
            copy_sql = f"COPY {temp} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
            with cursor.copy(copy_sql) as copy:
                copy.write(_binary_copy(chunk))
            cursor.execute(insert, list(target.fixed.values()))
            count, chunk_latest = cursor.fetchone()
            inserted += count
            if chunk_latest is not None:
                latest = chunk_latest if latest is None else max(latest, chunk_latest)
            if progress is not None:
                progress(start + len(chunk), len(frame))
    return inserted, latest


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"


def _binary_copy(chunk: pd.DataFrame) -> bytes:
    """PostgreSQL binary COPY of (bigint, float8, ...) rows, built with one numpy record
    array: exact values, no text formatting or parsing on either side."""
    names = list(chunk.columns)
    fields = [("count", ">i2")]
    for i, name in enumerate(names):
        fields += [(f"len{i}", ">i4"), (name, ">i8" if i == 0 else ">f8")]
    records = np.empty(len(chunk), dtype=np.dtype(fields))
    records["count"] = len(names)
    for i, name in enumerate(names):
        records[f"len{i}"] = 8
        records[name] = chunk[name].to_numpy()
    return _COPY_HEADER + records.tobytes() + _COPY_TRAILER


def _sqlite_load(
    target: _Target, frame: pd.DataFrame, progress: Progress | None
) -> tuple[int, int | None]:
    time_column = target.time_column
    ts = frame[time_column].to_numpy()
    inserted, latest = 0, None
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start:start + CHUNK_ROWS]
        chunk_ts = ts[start:start + CHUNK_ROWS]
        stored = set(
            target.model.objects.filter(
                **target.fixed,
                **{f"{time_column}__gte": int(chunk_ts.min()),
                   f"{time_column}__lte": int(chunk_ts.max())},
            ).values_list(time_column, flat=True)
        )
        fresh = chunk[~chunk[time_column].isin(stored)].drop_duplicates(time_column)
        objects = [
            target.model(**target.fixed, **row)
            for row in fresh.to_dict("records")
        ]
        target.model.objects.bulk_create(objects, batch_size=SQLITE_BATCH, ignore_conflicts=True)
        inserted += len(objects)
        if len(objects):
            newest = int(fresh[time_column].max())
            latest = newest if latest is None else max(latest, newest)
        if progress is not None:
            progress(start + len(chunk), len(frame))
    return inserted, latest
