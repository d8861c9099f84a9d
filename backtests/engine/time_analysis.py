"""When a strategy makes and loses money: by hour, weekday, month, and rolling windows.

Guarantees: all calendars are UTC and taken from bar OPEN timestamps
(milliseconds); a bar's return is E_t / E_{t-1} - 1 (E_{-1} = initial cash).
- by hour of day / day of week: mean bar return and bar count per bucket
  (weekday 0 = Monday); buckets without bars are None;
- monthly returns: compounded equity change per calendar month, from the last
  equity of the previous month (the initial cash for the first month);
- rolling 30/90/180-day returns: on daily closing equity (the last bar of each
  UTC day), E_d / E_{d-k} - 1 for calendar days d with a day k days earlier;
  None before that.
Output is JSON-safe.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backtests.engine.serialization import json_safe

MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ROLLING_DAYS = (30, 90, 180)


def _bucket_means(keys: np.ndarray, values: np.ndarray, n_buckets: int) -> dict[str, Any]:
    counts = np.bincount(keys, minlength=n_buckets)
    sums = np.bincount(keys, weights=values, minlength=n_buckets)
    means = np.full(n_buckets, np.nan)
    np.divide(sums, counts, out=means, where=counts > 0)
    filled = counts > 0
    best = int(np.nanargmax(means)) if filled.any() else None
    worst = int(np.nanargmin(means)) if filled.any() else None
    return {"mean_return": means, "bars": counts, "best": best, "worst": worst}


def returns_by_hour(timestamps: np.ndarray, returns: np.ndarray) -> dict[str, Any]:
    hours = (timestamps // MS_PER_HOUR) % 24
    return json_safe(_bucket_means(hours.astype(np.int64), returns, 24))


def returns_by_weekday(timestamps: np.ndarray, returns: np.ndarray) -> dict[str, Any]:
    weekday = (timestamps // MS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday
    out = _bucket_means(weekday.astype(np.int64), returns, 7)
    out["names"] = list(WEEKDAYS)
    return json_safe(out)


def _last_of_each(keys: np.ndarray) -> np.ndarray:
    """Index of the last element of each run of equal consecutive keys."""
    return np.flatnonzero(np.append(np.diff(keys) != 0, True))


def monthly_returns(timestamps: np.ndarray, equity: np.ndarray, initial: float) -> dict[str, Any]:
    months = timestamps.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    last = _last_of_each(months)
    month_end = equity[last]
    previous = np.concatenate(([initial], month_end[:-1]))
    values = month_end / previous - 1.0
    years = months[last] // 12 + 1970
    month_numbers = months[last] % 12 + 1
    table: dict[str, list[Any]] = {}
    for year, month, value in zip(years.tolist(), month_numbers.tolist(), values.tolist(),
                                  strict=True):
        table.setdefault(str(year), [None] * 12)[month - 1] = value
    rows = [
        {"year": int(y), "month": int(m), "return": v}
        for y, m, v in zip(years.tolist(), month_numbers.tolist(), values.tolist(), strict=True)
    ]
    return json_safe({"rows": rows, "table": table})


def rolling_returns(timestamps: np.ndarray, equity: np.ndarray) -> dict[str, Any]:
    days = timestamps // MS_PER_DAY
    last = _last_of_each(days)
    day_numbers = days[last]
    day_equity = equity[last]
    out: dict[str, Any] = {"dates": (day_numbers * MS_PER_DAY).tolist()}
    for window in ROLLING_DAYS:
        earlier = np.searchsorted(day_numbers, day_numbers - window)
        exact = (earlier < len(day_numbers)) & (
            day_numbers[np.minimum(earlier, len(day_numbers) - 1)] == day_numbers - window
        )
        values = np.full(len(day_numbers), np.nan)
        values[exact] = day_equity[exact] / day_equity[earlier[exact]] - 1.0
        out[f"{window}d"] = values
    return json_safe(out)


def time_analysis(timestamps: np.ndarray, equity: np.ndarray, initial: float) -> dict[str, Any]:
    timestamps = np.asarray(timestamps, dtype=np.int64)
    equity = np.asarray(equity, dtype=np.float64)
    previous = np.concatenate(([initial], equity[:-1]))
    returns = equity / previous - 1.0
    return {
        "by_hour": returns_by_hour(timestamps, returns),
        "by_weekday": returns_by_weekday(timestamps, returns),
        "monthly": monthly_returns(timestamps, equity, initial),
        "rolling": rolling_returns(timestamps, equity),
    }
