"""Speed of the batch indicators, in ns per bar on 1,000,000 synthetic bars.

Beside each of SMA, EMA, RSI and ATR it times a hand-written single-pass numba
kernel on the same data in the same run, and prints our time as a ratio of it
(target: within 2x). The first call of every function (JIT compilation or
numba cache load) is timed and printed separately; the figures are the best
of N calls after that. Also prints the per-update cost of the incremental
states (the live loop's path).

    .venv/bin/python bench/indicators.py          # 1,000,000 bars, best of 7
    .venv/bin/python bench/indicators.py --quick  # 100,000 bars, best of 3
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trading.engine import indicators as ind  # noqa: E402

HOUR_MS = 3_600_000


@njit
def baseline_sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(len(x))
    total = 0.0
    for i in range(len(x)):
        total += x[i]
        if i >= n:
            total -= x[i - n]
        out[i] = total / n if i >= n - 1 else np.nan
    return out


@njit
def baseline_ema(x: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(len(x))
    k = 2.0 / (n + 1)
    value = 0.0
    for i in range(len(x)):
        if i < n - 1:
            value += x[i]
            out[i] = np.nan
        elif i == n - 1:
            value = (value + x[i]) / n
            out[i] = value
        else:
            value += (x[i] - value) * k
            out[i] = value
    return out


@njit
def baseline_rsi(x: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(len(x))
    out[0] = np.nan
    gain = 0.0
    loss = 0.0
    for i in range(1, len(x)):
        change = x[i] - x[i - 1]
        up = change if change > 0 else 0.0
        down = -change if change < 0 else 0.0
        if i <= n:
            gain += up / n
            loss += down / n
        else:
            gain = (gain * (n - 1) + up) / n
            loss = (loss * (n - 1) + down) / n
        out[i] = 100.0 * gain / (gain + loss) if i >= n else np.nan
    return out


@njit
def baseline_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(len(close))
    out[0] = np.nan
    value = 0.0
    for i in range(1, len(close)):
        tr = max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        if i <= n:
            value += tr / n
        else:
            value = (value * (n - 1) + tr) / n
        out[i] = value if i >= n else np.nan
    return out


def synthetic_bars(size: int, seed: int = 7) -> dict[str, np.ndarray]:
    """A geometric random walk with realistic wicks and volumes."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.006, size)))
    open_ = np.concatenate(([close[0]], close[:-1]))
    wick = np.abs(rng.normal(0.0, 0.003, (2, size))) * close
    return {
        "high": np.maximum(open_, close) + wick[0],
        "low": np.minimum(open_, close) - wick[1],
        "close": close,
        "volume": rng.gamma(2.0, 50.0, size),
        "timestamps": 1_500_000_000_000 + HOUR_MS * np.arange(size, dtype=np.int64),
    }


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(first call seconds, best later call seconds)."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return first, best


def batch_cases(b: dict[str, np.ndarray]) -> dict[str, Callable[[], object]]:
    h, lo, c, v, ts = b["high"], b["low"], b["close"], b["volume"], b["timestamps"]
    return {
        "sma(20)": lambda: ind.sma(c, 20),
        "ema(20)": lambda: ind.ema(c, 20),
        "wma(20)": lambda: ind.wma(c, 20),
        "rsi(14)": lambda: ind.rsi(c, 14),
        "macd(12,26,9)": lambda: ind.macd(c),
        "true_range": lambda: ind.true_range(h, lo, c),
        "atr(14)": lambda: ind.atr(h, lo, c, 14),
        "bollinger(20,2)": lambda: ind.bollinger(c),
        "donchian(20)": lambda: ind.donchian(h, lo, 20),
        "stochastic(14,3,3)": lambda: ind.stochastic(h, lo, c),
        "ichimoku(9,26,52)": lambda: ind.ichimoku(h, lo, c),
        "vwap_rolling(24)": lambda: ind.vwap_rolling(h, lo, c, v, 24),
        "vwap_session(1d)": lambda: ind.vwap_session(h, lo, c, v, ts),
        "volume_ma(20)": lambda: ind.volume_ma(v),
        "obv": lambda: ind.obv(c, v),
        "adx(14)+di": lambda: ind.directional_indicators(h, lo, c, 14),
        "zscore(20)": lambda: ind.zscore(c, 20),
        "realized_vol(24)": lambda: ind.realized_volatility(c, 24, 8760),
        "swing_highs(2,2)": lambda: ind.swing_highs(h),
        "swing_lows(2,2)": lambda: ind.swing_lows(lo),
    }


def baseline_cases(b: dict[str, np.ndarray]) -> dict[str, Callable[[], object]]:
    h, lo, c = b["high"], b["low"], b["close"]
    return {
        "sma(20)": lambda: baseline_sma(c, 20),
        "ema(20)": lambda: baseline_ema(c, 20),
        "rsi(14)": lambda: baseline_rsi(c, 14),
        "atr(14)": lambda: baseline_atr(h, lo, c, 14),
    }


def incremental_cases(b: dict[str, np.ndarray]) -> dict[str, tuple[object, tuple[str, ...]]]:
    return {
        "SMAState(20)": (ind.SMAState(20), ("close",)),
        "EMAState(20)": (ind.EMAState(20), ("close",)),
        "RSIState(14)": (ind.RSIState(14), ("close",)),
        "ATRState(14)": (ind.ATRState(14), ("high", "low", "close")),
        "MACDState": (ind.MACDState(), ("close",)),
        "BollingerState(20)": (ind.BollingerState(20), ("close",)),
        "ADXState(14)": (ind.ADXState(14), ("high", "low", "close")),
        "VWAPState(24)": (ind.VWAPState(24), ("high", "low", "close", "volume")),
    }


def timed_pair(ours: Callable[[], object], baseline: Callable[[], object], repeats: int
               ) -> tuple[float, float]:
    """Best times of ours and the baseline, calls interleaved so both see the same load."""
    best_ours = best_base = float("inf")
    for _ in range(repeats):
        for fn, is_ours in ((ours, True), (baseline, False)):
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            if is_ours:
                best_ours = min(best_ours, elapsed)
            else:
                best_base = min(best_base, elapsed)
    return best_ours, best_base


def report_batch(bars: dict[str, np.ndarray], repeats: int) -> list[float]:
    size = len(bars["close"])
    baselines = baseline_cases(bars)
    jit = {name: timed(fn, 0)[0] for name, fn in baselines.items()}
    print(f"{'indicator':<20}{'first call ms':>14}{'ns/bar':>9}{'baseline ns/bar':>17}{'ratio':>7}")
    ratios = []
    for name, fn in batch_cases(bars).items():
        first, best = timed(fn, 0 if name in baselines else repeats)
        line = f"{name:<20}{first * 1e3:>14.1f}"
        if name in baselines:
            best, base = timed_pair(fn, baselines[name], repeats)
            ratios.append(best / base)
            line += f"{best / size * 1e9:>9.2f}{base / size * 1e9:>17.2f}{best / base:>7.2f}"
        else:
            line += f"{best / size * 1e9:>9.2f}"
        print(line)
    print("baseline kernels' first call (JIT compile): "
          + ", ".join(f"{name} {seconds * 1e3:.0f} ms" for name, seconds in jit.items()))
    return ratios


def report_incremental(bars: dict[str, np.ndarray], updates: int) -> None:
    print(f"\n{'incremental state':<20}{'us/update':>10}   ({updates:,} updates)")
    for name, (state, columns) in incremental_cases(bars).items():
        rows = list(zip(*(bars[col][:updates].tolist() for col in columns), strict=True))
        update = state.update  # type: ignore[attr-defined]
        start = time.perf_counter()
        for row in rows:
            update(*row)
        elapsed = time.perf_counter() - start
        print(f"{name:<20}{elapsed / updates * 1e6:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k bars, best of 3")
    args = parser.parse_args()
    size, repeats = (100_000, 3) if args.quick else (1_000_000, 7)
    bars = synthetic_bars(size)
    print(f"{size:,} synthetic bars, best of {repeats} calls after the first")
    print("first call = numba JIT compile, or a load from numba's on-disk cache once compiled\n")
    ratios = report_batch(bars, repeats)
    verdict = "within" if max(ratios) <= 2.0 else "OUTSIDE"
    print(f"worst ratio to the hand-written kernel: {max(ratios):.2f} ({verdict} the 2x target)")
    report_incremental(bars, 20_000 if args.quick else 100_000)


if __name__ == "__main__":
    main()
