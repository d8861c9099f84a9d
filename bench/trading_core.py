"""Cost per candle of the trading engine core (no agents): feed, guard, orders, fills, books, risk.

Replays a year of real BTC 1h candles as fast as possible with the four-tick
intra-bar path and adds one layer at a time:
  1. replay      ReplayFeed alone (the baseline, measured in the same run)
  2. + guard     FeedGuard validates every tick and candle
  3. + trailing  a trailing order follows every tick (re-armed when it fires)
  4. + execution PaperExecutor matches every tick; an order every 6 candles
                 (market or limit), each fill booked in the Portfolio
  5. + risk      RiskGuard.check before every order and observe every candle
Figures: candles/s and microseconds per candle, and each layer as a ratio of the
baseline. The issue's target for a whole event-driven backtest with every agent
is 5,000 candles/s (200 us per candle); this shows how much of it the core takes.

    .venv/bin/python bench/trading_core.py          # 2022 (8,760 candles), best of 3
    .venv/bin/python bench/trading_core.py --quick  # 2022-01 (744 candles), best of 1
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.market_data import load_bars  # noqa: E402
from trading.engine.clock import SimulatedClock  # noqa: E402
from trading.engine.execution import PaperCosts, PaperExecutor  # noqa: E402
from trading.engine.feed_guard import FeedGuard  # noqa: E402
from trading.engine.feeds import Candle, ReplayFeed, Tick  # noqa: E402
from trading.engine.instruments import Instrument  # noqa: E402
from trading.engine.market import Bars  # noqa: E402
from trading.engine.orders import ClientOrderIds, Order, OrderSide, TrailingOrder  # noqa: E402
from trading.engine.portfolio import Portfolio  # noqa: E402
from trading.engine.risk import MarketSnapshot, OrderIntent, RiskGuard, RiskLimits  # noqa: E402

SYMBOL = "BTCUSDT"
LAYERS = ("replay", "guard", "trailing", "execution", "risk")


class Core:
    """The pieces a loop would compose, switched on up to `depth` layers."""

    def __init__(self, bars: Bars, depth: int) -> None:
        self.depth = depth
        self.clock = SimulatedClock(int(bars.timestamps[0]))
        self.feed = ReplayFeed(bars, self.clock, path="auto")
        self.guard = FeedGuard(self.clock)
        instrument = Instrument(SYMBOL, "BTC", "USDT", lot_size=Decimal("0.00001"))
        self.executor = PaperExecutor(
            instruments=[instrument],
            balances={"USDT": "100000"},
            clock=self.clock,
            costs=PaperCosts(max_participation=Decimal("0.01")),
        )
        self.book = Portfolio("100000")
        self.risk = RiskGuard(RiskLimits(max_daily_trades=50, max_drawdown=1.0))
        self.ids = ClientOrderIds("bench")
        self.trailing: TrailingOrder | None = None
        self.candles = 0

    def run(self) -> int:
        for event in self.feed:
            if isinstance(event, Tick):
                self.on_tick(event)
            else:
                self.on_candle(event)
        return self.candles

    def on_tick(self, tick: Tick) -> None:
        if self.depth >= 2 and not self.guard.check_tick(tick).accepted:
            return
        if self.depth >= 3:
            if self.trailing is None or not self.trailing.is_active:
                self.trailing = TrailingOrder(
                    side=OrderSide.SELL,
                    quantity="0.1",
                    trail=0.02,
                    price=tick.price,
                    created_ms=tick.ts_ms,
                )
            self.trailing.on_price(tick.price, tick.ts_ms)
        if self.depth >= 4:
            for fill in self.executor.on_tick(tick):
                self.book.apply(fill)

    def on_candle(self, candle: Candle) -> None:
        self.candles += 1
        if self.depth >= 2 and not self.guard.check_candle(candle).accepted:
            return
        if self.depth < 4:
            return
        price = Decimal(repr(candle.close))
        market = MarketSnapshot(candle.ts_ms, {SYMBOL: price})
        if self.depth >= 5:
            self.risk.observe(self.book, market)
        if self.candles % 6:
            return
        held = self.book.position(SYMBOL).quantity
        side = OrderSide.BUY if held < Decimal("0.05") else OrderSide.SELL
        quantity = Decimal("0.1") if side is OrderSide.BUY else held
        if self.depth >= 5:
            intent = OrderIntent(SYMBOL, side, quantity, price)
            if not self.risk.check(intent, self.book, market).approved:
                return
        for working in self.executor.open_orders():
            self.executor.cancel(working.client_order_id)
        limit = None if self.candles % 12 else (price * Decimal("0.999")).quantize(Decimal("0.01"))
        order = Order.create(
            client_order_id=self.ids.next(candle.ts_ms),
            symbol=SYMBOL,
            side=side,
            quantity=quantity,
            created_ms=candle.ts_ms,
            limit_price=limit,
        )
        self.executor.submit(order)


def run_core(bars: Bars, depth: int) -> int:
    return Core(bars, depth).run()


def best_time(run: Callable[[], int], repeats: int) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(repeats):
        started = time.perf_counter()
        count = run()
        best = min(best, time.perf_counter() - started)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    end = "2022-02-01" if args.quick else "2023-01-01"
    bars = load_bars("BTCUSDT", "1h", start="2022-01-01", end=end)
    repeats = 1 if args.quick else 3
    print(f"trading core on BTC 1h 2022-01-01..{end}: {len(bars)} candles, 4 ticks each")
    print(f"{'layer':<12}{'candles/s':>12}{'us/candle':>12}{'x baseline':>12}")
    baseline = None
    for depth, name in enumerate(LAYERS, start=1):
        seconds, candles = best_time(partial(run_core, bars, depth), repeats)
        per_candle = seconds / candles * 1e6
        baseline = baseline or per_candle
        print(
            f"{name:<12}{candles / seconds:>12,.0f}{per_candle:>12.1f}"
            f"{per_candle / baseline:>12.1f}"
        )
    core = Core(bars, len(LAYERS))
    core.run()
    orders = len(core.executor._orders)
    fills = sum(len(o.fills) for o in core.executor._orders.values())
    print(
        f"full core: {orders} orders, {fills} fills, {len(core.risk.breaker.events)} breaker "
        f"events, final equity {core.book.equity({SYMBOL: bars.close[-1]}):.2f} USDT"
    )


if __name__ == "__main__":
    main()
