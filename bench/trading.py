"""Issue 5's trading benchmarks in one run: the event-driven engine, then journaled sessions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/organism REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/trading.py [--quick]

1. bench/trading_engine.py: an event-driven backtest over a year of 1h BTC with all
   agents (target >= 5,000 candles/s) and the kernel's per-candle latency.
2. bench/trading_sessions.py: per closed candle on PostgreSQL, from arrival to decision,
   paper fill, journal commit and websocket publish (target p99 < 20 ms), and a
   journaled paper session replaying as fast as possible (target >= 500 candles/s).
Each part is its own process so that neither warms the other's caches.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    extra = sys.argv[1:]
    for script in ("trading_engine.py", "trading_sessions.py"):
        print(f"\n### {script}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / script), *extra])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
