"""Event-driven backtests: a session replayed through the trading kernel with the paper executor.

Guarantees: `run_event_driven` runs `trading.engine.kernel.run_event_backtest`
(the same kernel a paper or live session runs) over the session's aligned
bars from `start` (earlier bars warm the agents up; the last of them is
decided on, so its signal fills at bar `start`'s open, as in the vectorised
engine), with the session's costs in the paper executor, closing every
position at the last bar's open. The engine named by `options["engine"]`
(see `kernel_setup.ENGINES`) chooses the policies and whether the instruments
share one account. The outcome is an `EventSimulation`: the run in the shape
of a vectorised result (so statistics, Monte Carlo and the pages read it the
same way), the kernel's exit reason of each trade, and a summary of the
kernel's decisions and events. Pure Python: no Django.

With engine "strategy", a seed strategy whose signals carry no stops or
per-bar sizes makes the same trades as the vectorised backtest (see
tests/backtests/test_event_driven_sessions.py); stops and sizes carried by a
strategy's signals are not applied by the kernel (it exits on signals), and
strategies whose indicators remember more than the agents' window of bars may
differ slightly.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backtests.engine.config import BacktestConfig
from backtests.engine.results import BacktestResult, MultiBacktestResult
from backtests.event_driven.decisions import KernelSummary
from backtests.event_driven.kernel_setup import (
    ENGINES,
    EngineInputs,
    EventEngine,
    accounts,
    paper_costs,
    window_bars,
)
from backtests.event_driven.results import Account, account_result, combined
from trading.engine.events import EventBus
from trading.engine.kernel import run_event_backtest
from trading.engine.market import Bars
from trading.engine.strategy import Strategy

__all__ = ["ENGINES", "EventEngine", "EventSimulation", "run_event_driven", "window_bars"]


@dataclass(frozen=True, eq=False)
class EventSimulation:
    result: BacktestResult | MultiBacktestResult
    exit_reasons: tuple[str, ...]  # the kernel's reason for each row of the portfolio's trades
    summary: Mapping[str, Any]


def _run_account(engine: EventEngine, inputs: EngineInputs, summary: KernelSummary,
                 ) -> tuple[Account, dict[str, Any]]:
    kernel_config, setup = engine.build(inputs)
    bus = EventBus()
    summary.subscribe(bus)
    run = run_event_backtest(
        {b.symbol: b for b in inputs.bars}, kernel_config, costs=paper_costs(inputs.config.costs),
        start=inputs.start, close_at_end=True, keep_events=False, bus=bus,
    )
    return Account(run=run, bars=inputs.bars, initial=inputs.capital), setup


def run_event_driven(
    bars: Sequence[Bars],
    strategy: Strategy,
    params: Mapping[str, Any],
    config: BacktestConfig,
    options: Mapping[str, Any],
    *,
    start: int,
    window: int,
) -> EventSimulation:
    """Replay `bars` (aligned, one per instrument) through the kernel from bar `start`."""
    engine = ENGINES[str(options.get("engine", "strategy"))]
    groups = accounts(engine, bars)
    capital = config.initial_cash / len(groups)
    summary = KernelSummary()
    began = time.perf_counter()
    runs = [
        _run_account(engine, EngineInputs(
            bars=group, start=start, strategy=strategy, params=params, config=config,
            options=options, capital=capital, window_bars=window,
        ), summary)
        for group in groups
    ]
    elapsed = time.perf_counter() - began
    results = [account_result(account, strategy=strategy.name, params=params, config=config,
                              start=start) for account, _ in runs]
    if len(results) == 1:
        result, reasons = results[0]
        simulation: BacktestResult | MultiBacktestResult = result
    else:
        simulation, reasons = combined(results, config=config, bars=bars, start=start)
    candles = sum(account.run.candles for account, _ in runs)
    details = {
        "engine": engine.name, "engine_label": engine.label,
        "accounts": len(groups), "shared_account": engine.shared_account,
        **runs[0][1], "window_bars": window, "candles": candles,
        "elapsed_s": elapsed, "candles_per_second": candles / elapsed if elapsed > 0 else None,
    }
    return EventSimulation(simulation, reasons, {**details, **summary.as_dict()})
