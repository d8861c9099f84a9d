"""Backtest engine benchmark: batched vectorbt path vs a hand-fused numba floor.

Run from the repository root:
    .venv/bin/python bench/backtests.py            # 1,000,000 and 10,080 bars
    .venv/bin/python bench/backtests.py --quick    # 200,000 and 10,080 bars, fewer repeats

Figures printed:
- 100 SMA-crossover parameter sets (fast 5..50 x slow 60..240) over N bars, for
  (a) `run_batch` (distinct SMAs computed once, signals, one vectorbt
  simulation per column chunk, per-set statistics) and (b) a fused numba loop
  doing indicators + signals + fills + fees + the same summary in one pass,
  measured in the same run as the floor: ns per bar-strategy, backtests per
  second, and (a)/(b) (target: within 10x);
- Monte Carlo of 10,000 paths x 500 trades (target: under 1 s);
- peak memory of one full session backtest (results, statistics, trades,
  Monte Carlo, JSON) over the large bar set, in a fresh process (target: < 1 GB).
Bars: the last 10,080 real BTCUSDT 1h bars; the large set loops the real BTCUSDT
1h history (2018-2026), each copy rescaled to start at the previous copy's last close.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numba  # noqa: E402
import numpy as np  # noqa: E402

from tests.market_data import load_bars  # noqa: E402
from trading.engine.market import Bars  # noqa: E402

HOUR_MS = 3_600_000
PARAMS = [{"fast": f, "slow": s} for f in range(5, 55, 5) for s in range(60, 260, 20)]
FEE, SLIPPAGE, CASH = 0.0005, 0.0005, 10_000.0


def looped_real_bars(n: int) -> Bars:
    """`n` hourly bars made of the real BTCUSDT 1h history repeated end to end."""
    real = load_bars("BTCUSDT", "1h")
    copies = -(-n // len(real))
    parts, scale = [], 1.0
    for _ in range(copies):
        parts.append(np.stack([real.open, real.high, real.low, real.close]) * scale)
        scale = parts[-1][3, -1] / real.open[0]
    ohlc = np.concatenate(parts, axis=1)[:, :n]
    volume = np.resize(real.volume, n)
    timestamps = real.timestamps[0] + HOUR_MS * np.arange(n, dtype=np.int64)
    return Bars.from_arrays(timestamps, *ohlc, volume, symbol="BTCUSDT-LOOPED", timeframe="1h")


@numba.njit(cache=True)
def fused_floor(open_, close, fast, slow, fee, slippage, cash0, periods, out):
    """One pass per parameter set: SMAs, crossover, next-open fills, fees, summary."""
    n = close.shape[0]
    for c in range(fast.shape[0]):
        f, s = fast[c], slow[c]
        sum_f = sum_s = 0.0
        cash, pos = cash0, 0.0
        prev_valid = prev_above = False
        pending = 0
        prev_eq = peak = cash0
        max_dd = sum_r = sum_r2 = 0.0
        trades = 0
        for i in range(n):
            if i == n - 1 and pos > 0.0:
                pending = -1
            elif i == n - 1:
                pending = 0
            if pending == 1:
                price = open_[i] * (1.0 + slippage)
                budget = cash
                pos = budget / (1.0 + fee) / price
                cash = 0.0
            elif pending == -1:
                value = pos * open_[i] * (1.0 - slippage)
                cash += value - value * fee
                pos = 0.0
                trades += 1
            # SMAs as trading.engine.indicators.sma computes them (TA-Lib order)
            x = close[i]
            sum_f += x
            sum_s += x
            fast_sma = sum_f / f
            slow_sma = sum_s / s
            if i >= f - 1:
                sum_f -= close[i - f + 1]
            if i >= s - 1:
                sum_s -= close[i - s + 1]
            valid = i >= s - 1
            above = fast_sma > slow_sma
            pending = 0
            if valid and prev_valid:
                if above and not prev_above and pos == 0.0:
                    pending = 1
                elif prev_above and not above and pos > 0.0:
                    pending = -1
            prev_valid, prev_above = valid, above
            eq = cash + pos * x
            r = eq / prev_eq - 1.0
            sum_r += r
            sum_r2 += r * r
            if eq > peak:
                peak = eq
            elif eq < peak * (1.0 + max_dd):
                max_dd = eq / peak - 1.0
            prev_eq = eq
        mean = sum_r / n
        std = np.sqrt((sum_r2 - sum_r * mean) / (n - 1))
        out[c, 0] = prev_eq
        out[c, 1] = mean / std * np.sqrt(periods) if std > 0 else np.nan
        out[c, 2] = max_dd
        out[c, 3] = trades


def best_time(run, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def bench_size(bars: Bars, repeats: int) -> dict[str, float]:
    from backtests.engine.backtest import run_batch
    from backtests.engine.strategies import SMACrossover

    strategy = SMACrossover()
    fast = np.array([p["fast"] for p in PARAMS], dtype=np.int64)
    slow = np.array([p["slow"] for p in PARAMS], dtype=np.int64)
    out = np.empty((len(PARAMS), 4))

    def floor() -> None:
        fused_floor(bars.open, bars.close, fast, slow, FEE, SLIPPAGE, CASH, 8760.0, out)

    def batched():
        return run_batch(bars, strategy, PARAMS)

    small = bars.slice(0, 1_000)
    fused_floor(small.open, small.close, fast, slow, FEE, SLIPPAGE, CASH, 8760.0, out)
    run_batch(small, strategy, PARAMS)  # compile / load caches outside the timing
    t_floor = best_time(floor, repeats)
    t_batch = best_time(batched, repeats)
    result = batched()
    agree = np.abs(result.metric("final_equity") / out[:, 0] - 1)
    same_trades = np.mean(result.metric("trades") == out[:, 3])
    return {"floor": t_floor, "batch": t_batch, "max_rel_equity_gap": float(np.max(agree)),
            "same_trade_count": float(same_trades)}


def print_size(label: str, n: int, figures: dict[str, float]) -> None:
    elements = n * len(PARAMS)
    print(f"\n{label}: {len(PARAMS)} parameter sets x {n:,} bars")
    print(f"  {'path':<28}{'seconds':>10}{'ns/bar-strategy':>18}{'backtests/s':>14}")
    for name, key in (("fused numba floor", "floor"), ("batched run_batch", "batch")):
        seconds = figures[key]
        print(f"  {name:<28}{seconds:>10.4f}{seconds / elements * 1e9:>18.2f}"
              f"{len(PARAMS) / seconds:>14,.0f}")
    ratio = figures["batch"] / figures["floor"]
    verdict = "OK" if ratio <= 10 else "ABOVE TARGET"
    print(f"  batched / floor = {ratio:.2f}x (target <= 10x: {verdict})")
    print(f"  same result check: final equity within {figures['max_rel_equity_gap']:.1e} "
          f"relative; identical trade counts for {figures['same_trade_count']:.0%} of sets")


def bench_monte_carlo() -> float:
    from backtests.engine.monte_carlo import monte_carlo

    trades = np.random.default_rng(0).normal(0.002, 0.02, 500)
    monte_carlo(trades, n_paths=100)
    seconds = best_time(lambda: monte_carlo(trades, n_paths=10_000, seed=1), 3)
    print(f"\nMonte Carlo 10,000 paths x 500 trades: {seconds:.3f} s "
          f"(target < 1 s: {'OK' if seconds < 1 else 'ABOVE TARGET'})")
    return seconds


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def one_session(bars: Bars) -> tuple[int, int]:
    """A full session: backtest, statistics, trades, Monte Carlo, all serialised to JSON."""
    from backtests.engine.backtest import run_backtest
    from backtests.engine.monte_carlo import monte_carlo
    from backtests.engine.strategies import SMACrossover

    result = run_backtest(bars, SMACrossover(), {"fast": 24, "slow": 96})
    mc = monte_carlo(result.trade_equity_returns())
    payload = json.dumps({"result": result.to_dict(), "monte_carlo": mc.to_dict()},
                         allow_nan=False)
    return len(result.trades), len(payload)


def memory_child(n: int) -> None:
    """Run one full session in this (fresh) process and print its memory figures as JSON."""
    bars = looped_real_bars(n)
    one_session(bars.slice(0, 2_000))  # imports and compiled caches loaded before measuring
    before = current_rss_mb()
    started = time.perf_counter()
    trades, size = one_session(bars)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    one_session(bars)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"seconds": seconds, "trades": trades, "json_mb": size / 1e6,
                      "rss_before_mb": before, "peak_rss_mb": peak,
                      "traced_peak_mb": traced_peak / 1e6}))


def bench_memory(n: int) -> None:
    child = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(n)], capture_output=True, text=True,
        check=True, cwd=REPO_ROOT,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    ok = figures["peak_rss_mb"] < 1024
    print(f"\nSession backtest over {n:,} bars (stats, trades, Monte Carlo, JSON) "
          f"in {figures['seconds']:.2f} s, {figures['trades']} trades, "
          f"{figures['json_mb']:.0f} MB of JSON")
    print(f"  peak RSS of the process {figures['peak_rss_mb']:.0f} MB (target < 1 GB: "
          f"{'OK' if ok else 'ABOVE'}); before the session {figures['rss_before_mb']:.0f} MB "
          "(Python, numpy, pandas, numba, vectorbt, the bars); allocations made by the "
          f"session itself (tracemalloc peak): {figures['traced_peak_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short version")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    large = 200_000 if args.quick else 1_000_000
    repeats = 1 if args.quick else 2
    real = load_bars("BTCUSDT", "1h")
    recent = real.slice(len(real) - 10_080, len(real))
    print("Bars: small = last 10,080 real BTCUSDT 1h bars; large = real BTCUSDT 1h history "
          f"({len(real):,} bars) looped to {large:,} bars, each copy rescaled to continue "
          "from the previous close.")
    looped = looped_real_bars(large)
    print_size("small", len(recent), bench_size(recent, repeats + 2))
    print_size("large", len(looped), bench_size(looped, repeats))
    bench_monte_carlo()
    bench_memory(large)


if __name__ == "__main__":
    main()
