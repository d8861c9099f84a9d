"""Synthetic bars, real funding alignment, parameter sampling and a truncation
lookahead check shared by the seed tests."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from evolution.engine.seeds import Seed
from tests.market_data import load_bars, load_funding
from trading.engine.market import Bars, timeframe_ms
from trading.engine.strategy import ParamSpace, Signals

START_MS = 1_640_995_200_000  # 2022-01-01 00:00 UTC, a Saturday midnight


def bars_from_closes(
    closes: Iterable[float],
    *,
    spread: float = 0.0,
    volume: float | np.ndarray = 1.0,
    funding_rate: np.ndarray | None = None,
    timeframe: str = "1h",
) -> Bars:
    """Bars whose close follows `closes`; open = previous close; high/low `spread` around."""
    close = np.asarray(list(closes), dtype=np.float64)
    n = len(close)
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) * (1.0 + spread)
    low = np.minimum(open_, close) * (1.0 - spread)
    stamps = START_MS + np.arange(n, dtype=np.int64) * timeframe_ms(timeframe)
    volumes = np.broadcast_to(np.asarray(volume, dtype=np.float64), (n,))
    return Bars.from_arrays(
        stamps, open_, high, low, close, volumes, timeframe=timeframe, funding_rate=funding_rate
    )


def flat_bars(n: int = 300, price: float = 100.0) -> Bars:
    return bars_from_closes(np.full(n, price), volume=1.0)


def aligned_funding(bars: Bars, symbol: str = "BTCUSDT") -> np.ndarray:
    """The last funding rate settled at or before each bar's close (NaN before the first)."""
    stamps, rates = load_funding(symbol)
    closes_at = bars.timestamps + timeframe_ms(bars.timeframe)
    latest = np.searchsorted(stamps, closes_at, side="right") - 1
    out = np.full(len(bars), np.nan)
    known = latest >= 0
    out[known] = rates[latest[known]]
    return out


def real_bars(start: str = "2022-01-01", end: str = "2023-01-01") -> Bars:
    """Real BTC 1h bars with the perpetual's funding aligned to them."""
    bars = load_bars("BTCUSDT", "1h", start=start, end=end)
    return Bars.from_arrays(
        bars.timestamps,
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        bars.volume,
        symbol=bars.symbol,
        timeframe=bars.timeframe,
        funding_rate=aligned_funding(bars),
    )


def random_params(space: ParamSpace, rng: np.random.Generator) -> dict[str, Any]:
    """One uniformly drawn point of `space` (log-uniform for log-scale params)."""
    out: dict[str, Any] = {}
    for p in space:
        if p.kind == "bool":
            out[p.name] = bool(rng.integers(2))
        elif p.kind == "categorical":
            out[p.name] = p.choices[int(rng.integers(len(p.choices)))]
        else:
            assert p.low is not None and p.high is not None
            if p.log:
                value = math.exp(rng.uniform(math.log(p.low), math.log(p.high)))
            else:
                value = rng.uniform(p.low, p.high)
            value = min(max(value, p.low), p.high)
            out[p.name] = int(round(value)) if p.kind == "int" else value
    return out


SIGNAL_ARRAYS = ("entries", "exits", "short_entries", "short_exits", "size")
STOP_FIELDS = ("sl_stop", "tp_stop", "tsl_stop")


def signal_arrays(signals: Signals) -> dict[str, np.ndarray | float | None]:
    """Every per-bar output of `signals` by name (extras prefixed `extras.`)."""
    named: dict[str, Any] = {name: getattr(signals, name) for name in SIGNAL_ARRAYS + STOP_FIELDS}
    named.update({f"extras.{k}": v for k, v in signals.extras.items()})
    return named


def lookahead_violations(
    seed: Seed, bars: Bars, params: Mapping[str, Any], cuts: Iterable[int]
) -> list[str]:
    """Fields whose values before a cut change when the bars after it are removed."""
    full = signal_arrays(seed.signals(bars, params))
    problems: list[str] = []
    for cut in cuts:
        part = signal_arrays(seed.signals(bars.slice(0, cut), params))
        if part.keys() != full.keys():
            problems.append(f"cut {cut}: fields {sorted(part)} != {sorted(full)}")
            continue
        for name, whole in full.items():
            piece = part[name]
            if whole is None or piece is None or np.ndim(whole) == 0:
                if not _same_scalar(whole, piece):
                    problems.append(f"cut {cut}: {name} {piece!r} != {whole!r}")
                continue
            if not np.array_equal(np.asarray(whole)[:cut], np.asarray(piece), equal_nan=True):
                problems.append(f"cut {cut}: {name} differs before the cut")
    return problems


def _same_scalar(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))


def random_cuts(n: int, count: int, *, low: int, seed: int = 7) -> list[int]:
    """`count` distinct truncation points in [low, n)."""
    rng = np.random.default_rng(seed)
    return sorted(int(c) for c in rng.choice(np.arange(low, n), size=count, replace=False))
