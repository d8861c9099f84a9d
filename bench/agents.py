"""Cost of the trading agents and of one orchestrator vote on real BTC 1h windows.

Each agent is timed on fresh 500-bar snapshots (so it pays for every indicator
it needs, nothing cached by another agent): p50 and p99 microseconds per call,
target under 1 ms each. Then one full vote of all standalone agents
(shared indicator cache, weighted consensus), inline and on guarded worker
threads. Baseline measured in the same run: TA-Lib computing RSI, MACD, ATR,
Bollinger and ADX once on the same window, the indicator set a vote needs;
the vote is printed as a ratio of it.

    .venv/bin/python bench/agents.py          # 2,000 windows
    .venv/bin/python bench/agents.py --quick  # 300 windows
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import talib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.market_data import load_bars  # noqa: E402
from trading.engine.agents import MarketSnapshot, default_agents  # noqa: E402
from trading.engine.market import Bars  # noqa: E402
from trading.engine.orchestrator import Orchestrator  # noqa: E402

WINDOW = 500


def windows(count: int) -> tuple[list[Bars], list[Bars]]:
    btc = load_bars("BTCUSDT", "1h", start="2021-01-01", end="2023-01-01")
    eth = load_bars("ETHUSDT", "1h", start="2021-01-01", end="2023-01-01")
    common, ib, ie = np.intersect1d(btc.timestamps, eth.timestamps, return_indices=True)
    step = max(1, (len(common) - WINDOW) // count)
    ends = range(WINDOW, len(common), step)
    primary = [btc.slice(int(ib[e - WINDOW]), int(ib[e - 1]) + 1) for e in ends][:count]
    peers = [eth.slice(int(ie[e - WINDOW]), int(ie[e - 1]) + 1) for e in ends][:count]
    return primary, peers


def timed(calls: list[Callable[[], object]]) -> np.ndarray:
    out = np.empty(len(calls))
    for i, call in enumerate(calls):
        start = time.perf_counter()
        call()
        out[i] = time.perf_counter() - start
    return out * 1e6


def talib_baseline(bars: Bars) -> None:
    talib.RSI(bars.close, 14)
    talib.MACD(bars.close, 12, 26, 9)
    talib.ATR(bars.high, bars.low, bars.close, 14)
    talib.BBANDS(bars.close, 20, 2.0, 2.0)
    talib.ADX(bars.high, bars.low, bars.close, 14)


def report(label: str, micros: np.ndarray, note: str = "") -> None:
    p50, p99 = np.percentile(micros, [50, 99])
    print(f"{label:<26} p50 {p50:8.1f} us   p99 {p99:8.1f} us  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    count = 300 if parser.parse_args().quick else 2_000
    primary, peers = windows(count)
    snap = lambda i: MarketSnapshot(primary[i], peers={"ETHUSDT": peers[i]})  # noqa: E731
    agents = default_agents()
    for agent in agents:  # JIT / numba cache load happens here, not in the figures
        agent.analyze(snap(0))
    talib_baseline(primary[0])
    print(f"{len(primary)} windows of {WINDOW} BTCUSDT 1h bars (ETHUSDT as peer)\n")
    baseline = timed([lambda b=b: talib_baseline(b) for b in primary])
    report("baseline: TA-Lib 5 indicators", baseline)
    for agent in agents:
        snaps = [snap(i) for i in range(len(primary))]
        micros = timed([lambda s=s, a=agent: a.analyze(s) for s in snaps])
        report(agent.name, micros, "(target < 1000 us)")
    inline = Orchestrator(default_agents(), budget_s=1.0)
    snaps = [snap(i) for i in range(len(primary))]
    votes = timed([lambda s=s: inline.vote(s) for s in snaps])
    ratio = np.median(votes) / np.median(baseline)
    report("vote, all agents, inline", votes, f"x{ratio:.1f} baseline")
    print(f"{'':<26} {1e6 / np.mean(votes):,.0f} votes/s")
    guarded = Orchestrator(default_agents(), budget_s=1.0, hard_timeout_s=1.0)
    snaps = [snap(i) for i in range(len(primary))]
    try:
        threaded = timed([lambda s=s: guarded.vote(s) for s in snaps])
    finally:
        guarded.close()
    report(
        "vote, guarded threads", threaded, f"x{np.median(threaded) / np.median(votes):.2f} inline"
    )


if __name__ == "__main__":
    main()
