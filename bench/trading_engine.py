"""Throughput and latency of the trading kernel's event-driven backtest, all agents on.

Figures, on real BTCUSDT 1h bars replayed tick by tick (4 intra-bar ticks per
candle) through `run_event_backtest` with every standalone agent voting:
- candles/s of the event-driven backtest over a year (target >= 5,000/s);
- per-candle latency of the kernel step, p50/p99: the candle close (window,
  agents' vote, decision, orders) and the whole bar (its 4 ticks with paper
  matching and exits, then the close);
- baseline measured in the same run: the same kernel with the agents' batch
  forms (each vote recomputes every indicator on a 500-bar window), printed as
  the ratio of the incremental kernel's throughput to it.
Throughput is the best of 3 runs (1 with --quick) with the result holding
trades, fills and the equity curve; the run keeping every event (about 6 per
candle, each decision with its vote) is printed too.
The DB journal and websocket parts are measured separately.

    .venv/bin/python bench/trading_engine.py          # a year (2022)
    .venv/bin/python bench/trading_engine.py --quick  # a quarter
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.market_data import load_bars  # noqa: E402
from trading.engine.clock import SimulatedClock  # noqa: E402
from trading.engine.events import EventBus  # noqa: E402
from trading.engine.execution import PaperExecutor  # noqa: E402
from trading.engine.feeds import Candle  # noqa: E402
from trading.engine.kernel import (  # noqa: E402
    KernelConfig,
    MultiReplayFeed,
    TradingKernel,
    run_event_backtest,
)
from trading.engine.market import Bars  # noqa: E402
from trading.engine.risk_profiles import MarketStats, RiskProfile  # noqa: E402


def session(bars: Bars) -> KernelConfig:
    stats = MarketStats.from_bars(bars.slice(0, 500))
    return KernelConfig(
        session_id="bench",
        symbols=(bars.symbol,),
        timeframe=bars.timeframe,
        capital=10_000.0,
        profile=RiskProfile.derive("moderate", 10_000.0, stats, symbols=[bars.symbol]),
    )


def throughput(
    bars: Bars, config: KernelConfig, repeats: int, keep_events: bool
) -> tuple[float, int]:
    """Best candles/s over `repeats` runs, and the number of trades."""
    best, trades = 0.0, 0
    for _ in range(repeats):
        result = run_event_backtest({bars.symbol: bars}, config, keep_events=keep_events)
        best = max(best, result.candles_per_second)
        trades = len(result.trades)
    return best, trades


def latencies(bars: Bars, config: KernelConfig) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds per candle close, and per whole bar (ticks + close)."""
    clock = SimulatedClock(0)
    executor = PaperExecutor(
        instruments=config.instruments, balances={"USDT": config.capital_decimal}, clock=clock
    )
    kernel = TradingKernel(config, clock=clock, executor=executor, bus=EventBus(),
                           timer=lambda: 0.0)
    closes, whole = [], []
    bar_started = time.perf_counter()
    for event in MultiReplayFeed([bars], clock, path="auto"):
        start = time.perf_counter()
        kernel.process(event)
        if isinstance(event, Candle):
            done = time.perf_counter()
            closes.append(done - start)
            whole.append(done - bar_started)
            bar_started = done
    return np.array(closes) * 1e6, np.array(whole) * 1e6


def report(label: str, micros: np.ndarray) -> None:
    p50, p99 = np.percentile(micros, [50, 99])
    print(f"{label:<44} p50 {p50:8.1f} us   p99 {p99:8.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    end = "2022-04-01" if quick else "2023-01-01"
    bars = load_bars("BTCUSDT", "1h", start="2022-01-01", end=end)
    config = session(bars)
    run_event_backtest({bars.symbol: bars.slice(0, 600)}, config)  # warm numba caches
    print(f"{len(bars):,} BTCUSDT 1h candles (2022-01-01 to {end}), 4 ticks each, all agents\n")
    repeats = 1 if quick else 3
    rate, trades = throughput(bars, config, repeats, keep_events=False)
    kept, _ = throughput(bars, config, repeats, keep_events=True)
    baseline, _ = throughput(bars, replace(config, incremental_agents=False), 1, False)
    print(f"baseline: the same kernel with batch agents     {baseline:8,.0f} candles/s")
    print(
        f"event-driven backtest, incremental agents       {rate:8,.0f} candles/s "
        f"(x{rate / baseline:.1f} baseline; target >= 5,000; {trades} trades)"
    )
    print(f"  ... also keeping every event in the result    {kept:8,.0f} candles/s")
    closes, whole = latencies(bars, config)
    print()
    report("kernel step at a candle close (vote, decide)", closes)
    report("whole bar (4 ticks + paper fills + close)", whole)


if __name__ == "__main__":
    main()
