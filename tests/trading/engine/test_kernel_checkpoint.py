"""Checkpoints: a killed worker resumes with no order or fill lost or repeated.

Each test compares a session interrupted and resumed from a JSON checkpoint
with the same session run without interruption, on real BTC 1h bars.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pytest

from tests.market_data import load_bars
from tests.trading.engine.test_kernel_parity import parity_costs, strategy_only_config
from trading.engine.clock import SimulatedClock
from trading.engine.events import EngineEvent, EventBus, FillEvent
from trading.engine.execution import PaperCosts, PaperExecutor
from trading.engine.feeds import Candle
from trading.engine.kernel import (
    KernelConfig,
    KernelOrderEvent,
    MultiReplayFeed,
    TradingKernel,
    checkpoint_balances,
    checkpoint_orders,
)
from trading.engine.market import Bars
from trading.engine.risk_profiles import MarketStats, RiskProfile

COSTS = PaperCosts()


@pytest.fixture(scope="module")
def bars() -> Bars:
    return load_bars("BTCUSDT", "1h", start="2022-01-01", end="2022-03-01")


def agents_config(bars: Bars) -> KernelConfig:
    stats = MarketStats.from_bars(bars.slice(0, 300))
    return KernelConfig(
        session_id="resume-test",
        symbols=("BTCUSDT",),
        timeframe="1h",
        capital=10_000.0,
        profile=RiskProfile.derive("moderate", 10_000.0, stats, symbols=["BTCUSDT"]),
    )


class Worker:
    """One kernel process: its clock, executor, bus and event log."""

    def __init__(self, config: KernelConfig, *, clock=None, executor=None, restore=None,
                 history: Bars | None = None, costs: PaperCosts = COSTS) -> None:
        self.clock = clock or SimulatedClock(0)
        self.executor = executor or PaperExecutor(
            instruments=config.instruments, balances={"USDT": Decimal(10_000)},
            clock=self.clock, costs=costs,
        )
        self.bus = EventBus()
        self.log: list[EngineEvent] = []
        self.bus.subscribe(EngineEvent, self.log.append)
        common = dict(clock=self.clock, executor=self.executor, bus=self.bus, timer=lambda: 0.0)
        if restore is None:
            self.kernel = TradingKernel(config, **common)
        else:
            history_map = None if history is None else {history.symbol: history}
            self.kernel = TradingKernel.restore(config, restore, history=history_map, **common)

    def run(self, bars: Bars, start: int, stop: int,
            after_candle: Callable[[int], bool] | None = None) -> None:
        """Replay bars [start, stop); `after_candle(index)` returning True stops the run."""
        window = bars.slice(0, stop)
        for event in MultiReplayFeed([window], self.clock, path="auto", start=start):
            self.kernel.process(event)
            if isinstance(event, Candle) and after_candle is not None:
                index = int(np.searchsorted(bars.timestamps, event.open_ms))
                if after_candle(index):
                    return


def json_round_trip(checkpoint: dict) -> dict:
    return json.loads(json.dumps(checkpoint))


def first_candle(bars: Bars, config: KernelConfig, condition, costs: PaperCosts = COSTS) -> int:
    """The first bar after which the uninterrupted session is in the state `condition` wants."""
    probe = Worker(config, costs=costs)
    found: list[int] = []

    def check(index: int) -> bool:
        if condition(probe.kernel.symbols["BTCUSDT"]):
            found.append(index)
            return True
        return False

    probe.run(bars, 0, len(bars), check)
    assert found, "the scenario never reached the wanted state"
    return found[0] + 1


def resumed_matches_uninterrupted(bars: Bars, config: KernelConfig, cut: int) -> None:
    # given an uninterrupted session, and one killed after `cut` candles then restored
    whole = Worker(config)
    marks: dict[str, int] = {}

    def remember(index: int) -> bool:
        if index == cut - 1:
            marks["at_cut"] = len(whole.log)
        return False

    whole.run(bars, 0, len(bars), remember)
    first = Worker(config)
    first.run(bars, 0, cut)
    saved = json_round_trip(first.kernel.checkpoint())
    clock = SimulatedClock(saved["clock_ms"])
    executor = PaperExecutor(
        instruments=config.instruments, balances=checkpoint_balances(saved), clock=clock,
        costs=COSTS,
    )
    executor.resume(checkpoint_orders(saved))
    resumed = Worker(config, clock=clock, executor=executor, restore=saved,
                     history=bars.slice(0, cut))
    # when the restored worker replays the rest of the bars
    resumed.run(bars, cut, len(bars))
    # then it publishes exactly the events of the uninterrupted run, and ends in its state
    assert [repr(e) for e in resumed.log] == [repr(e) for e in whole.log[marks["at_cut"]:]]
    assert resumed.kernel.checkpoint() == whole.kernel.checkpoint()
    assert resumed.executor.balances() == whole.executor.balances()


def order_ids(log: list[EngineEvent]) -> set[str]:
    """The client ids of the orders a worker's log shows it sent."""
    return {e.client_order_id for e in log if isinstance(e, KernelOrderEvent)}


def test_resuming_with_a_trailing_entry_waiting(bars):
    config = agents_config(bars)
    cut = first_candle(bars, config, lambda s: s.trailing is not None)
    resumed_matches_uninterrupted(bars, config, cut)


def test_resuming_with_a_position_and_its_take_profit_orders_open(bars):
    config = agents_config(bars)
    cut = first_candle(bars, config, lambda s: s.trade is not None and s.trade.take_profits)
    resumed_matches_uninterrupted(bars, config, cut)


def test_a_replayed_candle_resends_the_same_order_and_books_its_fill_once(bars):
    # given a strategy session whose entry was placed and filled at the first price after a
    # checkpoint, when the worker died before its next checkpoint
    config = strategy_only_config(bars)
    cut = first_candle(
        bars, config, lambda s: s.pending is not None and s.pending.side == "BUY", parity_costs()
    )
    whole = Worker(config, costs=parity_costs())
    whole.run(bars, 0, len(bars))
    crashed = Worker(config, costs=parity_costs())
    crashed.run(bars, 0, cut)
    saved = json_round_trip(crashed.kernel.checkpoint())
    open_tick = next(iter(MultiReplayFeed([bars.slice(0, cut + 1)], crashed.clock,
                                          path="auto", start=cut)))
    crashed.kernel.process(open_tick)
    sent = crashed.log[-1]
    assert isinstance(sent, FillEvent) and sent.side == "BUY"
    # when a new worker restores the checkpoint against the same exchange and replays the bar
    resumed = Worker(config, clock=crashed.clock, executor=crashed.executor, restore=saved,
                     history=bars.slice(0, cut))
    resumed.run(bars, cut, len(bars))
    # then the exchange holds one order per client id, the fill was booked once,
    # and the books end exactly as in the uninterrupted session
    assert order_ids(crashed.log) | order_ids(resumed.log) == order_ids(whole.log)
    booked = [e.trade_id for e in resumed.log if isinstance(e, FillEvent)]
    assert sent.trade_id in booked and len(booked) == len(set(booked))
    assert resumed.kernel.portfolio.snapshot() == whole.kernel.portfolio.snapshot()
    assert resumed.executor.balances() == whole.executor.balances()
    assert resumed.kernel.checkpoint() == whole.kernel.checkpoint()
