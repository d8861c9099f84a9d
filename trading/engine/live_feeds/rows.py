"""ccxt OHLCV rows and tickers as engine `Candle`s and `Tick`s.

Guarantees: conversion never raises on bad exchange data. A missing or
non-numeric value becomes NaN (a missing timestamp -1), so the malformed bar
or price reaches the `FeedGuard`, which rejects it with its reason, instead
of crashing the feed or being silently repaired.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from trading.engine.feeds import Candle, Tick

NAN = float("nan")


def number(value: Any) -> float:
    if isinstance(value, bool):
        return NAN
    try:
        result = float(value)
    except (TypeError, ValueError):
        return NAN
    return result if math.isfinite(result) else NAN


def open_time(row: Sequence[Any]) -> int:
    value = number(row[0]) if len(row) > 0 else NAN
    return int(value) if math.isfinite(value) else -1


def candle_from_row(symbol: str, timeframe: str, row: Sequence[Any]) -> Candle:
    values = [number(row[i]) if i < len(row) else NAN for i in range(1, 6)]
    return Candle(symbol, timeframe, open_time(row), *values)


def tick_from_ticker(symbol: str, ticker: Mapping[str, Any], now_ms: int) -> Tick:
    """The last traded price; stamped with the ticker's time, or `now_ms` if it has none."""
    stamp = number(ticker.get("timestamp"))
    return Tick(symbol, int(stamp) if math.isfinite(stamp) else now_ms, number(ticker.get("last")))
