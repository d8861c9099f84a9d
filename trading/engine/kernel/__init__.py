"""The trading kernel: one event-driven code path for replay, paper and live trading.

`TradingKernel` runs feed -> agents -> decision -> risk -> orders -> executor
-> portfolio -> exits -> events on an injected clock, feed and executor;
`KernelConfig` and the policies in `policies` choose how it decides, sizes,
enters and exits; `GridPolicy` gives some symbols to a self-tuning grid
(`grid_policy`, `grid_book`, `grid_trader`); `run_event_backtest` replays
stored bars through it; the `incremental` package holds the agents'
O(1)-per-candle forms.
"""

from trading.engine.kernel.backtest import EventBacktestResult, run_event_backtest
from trading.engine.kernel.checkpoint import checkpoint_balances, checkpoint_orders
from trading.engine.kernel.config import KernelConfig, limits_from_profile
from trading.engine.kernel.grid_policy import GridEvent, GridPolicy
from trading.engine.kernel.incremental import IncrementalAgent, incremental_form
from trading.engine.kernel.kernel import TradingKernel
from trading.engine.kernel.policies import (
    AllCashSizing,
    ConsensusDecision,
    DecidedExitsOnly,
    DecisionInputs,
    DecisionPolicy,
    DecisionSizing,
    ExecutionStyle,
    ExitPolicy,
    ImmediateExecution,
    PlannedExits,
    SizingPolicy,
    StrategySignalDecision,
    TrailingExecution,
)
from trading.engine.kernel.ports import JournalSink, PriceMatcher
from trading.engine.kernel.records import (
    EquityEvent,
    KernelOrderEvent,
    OutcomeBands,
    TradeClosedEvent,
    TrailingEvent,
)
from trading.engine.kernel.replay import MultiReplayFeed

__all__ = [
    "AllCashSizing",
    "ConsensusDecision",
    "DecidedExitsOnly",
    "DecisionInputs",
    "DecisionPolicy",
    "DecisionSizing",
    "EquityEvent",
    "EventBacktestResult",
    "ExecutionStyle",
    "ExitPolicy",
    "GridEvent",
    "GridPolicy",
    "ImmediateExecution",
    "IncrementalAgent",
    "JournalSink",
    "KernelConfig",
    "KernelOrderEvent",
    "MultiReplayFeed",
    "OutcomeBands",
    "PlannedExits",
    "PriceMatcher",
    "SizingPolicy",
    "StrategySignalDecision",
    "TradeClosedEvent",
    "TradingKernel",
    "TrailingEvent",
    "TrailingExecution",
    "checkpoint_balances",
    "checkpoint_orders",
    "incremental_form",
    "limits_from_profile",
    "run_event_backtest",
]
