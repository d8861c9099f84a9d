"""The kernel's pluggable choices: how to decide, how much to buy, how to enter, how to exit.

Guarantees: every policy is a frozen dataclass (part of a frozen `KernelConfig`)
and a pure function of its inputs. The kernel has no modes: a session trading
on the agents' consensus and a "strategy-only" replay that must reproduce a
vectorised backtest differ only by these objects:
- decision: `ConsensusDecision` (the agents' weighted vote through
  `trading.engine.decision.decide`, thresholds and sizing from the risk
  profile) or `StrategySignalDecision` (one agent's signal alone: buy when
  flat, sell everything when holding);
- sizing: `DecisionSizing` (the quantity the decision sized, capped to what
  free cash pays at the entry limit) or `AllCashSizing` (all free cash at the
  entry limit, fees included);
- execution: `TrailingExecution` (decisions become trailing orders that fire
  on a retrace) or `ImmediateExecution` (placed at the next observed price);
- exits: `PlannedExits` (the decision's stop-loss, take-profit tiers, time
  stop and trailing stop) or `DecidedExitsOnly` (positions close on decisions).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from trading.engine.agents.base import AgentAction
from trading.engine.decision import (
    Decision,
    DecisionAction,
    DecisionContext,
    ExitPlan,
    LotRules,
    TradeStats,
    decide,
)
from trading.engine.feeds import Candle
from trading.engine.instruments import Instrument
from trading.engine.money import ONE, ZERO
from trading.engine.orchestrator import Vote
from trading.engine.orders.model import OrderSide
from trading.engine.orders.trailing import TrailingOrder
from trading.engine.risk_profiles import RiskProfile


@dataclass(frozen=True)
class DecisionInputs:
    """Everything a decision policy may read at one closed candle."""

    candle: Candle
    vote: Vote
    profile: RiskProfile
    position_qty: Decimal
    equity: float
    cash: float
    exposure: float
    open_positions: int
    lot_rules: LotRules
    daily_volatility: float
    avg_bar_volume: float
    session_start_price: float | None
    awaiting_first_entry: bool
    track_record: TradeStats | None


class DecisionPolicy(Protocol):
    def decide(self, inputs: DecisionInputs) -> Decision: ...


@dataclass(frozen=True)
class ConsensusDecision:
    """Trade on the agents' consensus with the risk profile's thresholds and sizing."""

    def decide(self, inputs: DecisionInputs) -> Decision:
        candle = inputs.candle
        context = DecisionContext(
            timestamp_ms=candle.ts_ms,
            symbol=candle.symbol,
            price=candle.close,
            equity=max(0.0, inputs.equity),
            cash=max(0.0, inputs.cash),
            lot_rules=inputs.lot_rules,
            daily_volatility=inputs.daily_volatility,
            avg_bar_volume=inputs.avg_bar_volume,
            position_qty=float(inputs.position_qty),
            open_positions=inputs.open_positions,
            exposure=max(0.0, inputs.exposure),
            track_record=inputs.track_record,
            session_start_price=inputs.session_start_price,
            awaiting_first_entry=inputs.awaiting_first_entry,
        )
        vote = inputs.vote
        return decide(vote.consensus, context, inputs.profile, vote.signals)


@dataclass(frozen=True)
class StrategySignalDecision:
    """Follow one agent's signal alone (e.g. a wrapped seed strategy), long only."""

    agent: str

    def decide(self, inputs: DecisionInputs) -> Decision:
        signal = inputs.vote.signal_of(self.agent)
        candle = inputs.candle
        held = inputs.position_qty
        action, reasons = DecisionAction.SKIP, []
        if signal is None:
            why = next((e.reason for e in inputs.vote.excluded if e.agent == self.agent), "")
            reasons = [f"{self.agent} gave no signal {why}".strip()]
        elif signal.action is AgentAction.TRAIL_BUY and held <= 0:
            action = DecisionAction.TRAIL_BUY
            reasons = [f"{self.agent}: {signal.reasoning}", "enter at the next price"]
        elif signal.action is AgentAction.TRAIL_SELL and held > 0:
            action = DecisionAction.TRAIL_SELL
            reasons = [f"{self.agent}: {signal.reasoning}", f"close {held} at the next price"]
        else:
            state = "holding" if held > 0 else "flat"
            reasons = [f"{self.agent}: {signal.action.value} while {state}: nothing to do"]
        return Decision(
            timestamp_ms=candle.ts_ms,
            symbol=candle.symbol,
            action=action,
            consensus_action=signal.action if signal else AgentAction.HOLD,
            confidence=signal.confidence if signal else 0.0,
            threshold=None,
            price=candle.close,
            quantity=held if action is DecisionAction.TRAIL_SELL else ZERO,
            trail_distance=signal.trail_distance if signal else 0.02,
            tolerance=inputs.profile.tolerance,
            reasons=(*reasons, "skip") if action is DecisionAction.SKIP else tuple(reasons),
        )


class SizingPolicy(Protocol):
    def entry_quantity(
        self, decided: Decimal, cash: Decimal, limit: Decimal, fee_rate: Decimal,
        instrument: Instrument,
    ) -> Decimal: ...


def affordable(cash: Decimal, limit: Decimal, fee_rate: Decimal, instrument: Instrument) -> Decimal:
    """The most lots `cash` pays for at `limit`, fees included."""
    if cash <= 0 or limit <= 0:
        return ZERO
    return instrument.round_quantity(cash / (limit * (ONE + fee_rate)))


@dataclass(frozen=True)
class DecisionSizing:
    """The decision's quantity, never more than free cash can fund at the entry limit."""

    def entry_quantity(
        self, decided: Decimal, cash: Decimal, limit: Decimal, fee_rate: Decimal,
        instrument: Instrument,
    ) -> Decimal:
        funded = affordable(cash, limit, fee_rate, instrument)
        return min(instrument.round_quantity(decided), funded)


@dataclass(frozen=True)
class AllCashSizing:
    """All free cash, fees included (a vectorised backtest's 100% of equity)."""

    def entry_quantity(
        self, decided: Decimal, cash: Decimal, limit: Decimal, fee_rate: Decimal,
        instrument: Instrument,
    ) -> Decimal:
        return affordable(cash, limit, fee_rate, instrument)


class ExecutionStyle(Protocol):
    def trailing_order(
        self, side: OrderSide, quantity: Decimal, trail: float, price: float, ts_ms: int,
        purpose: str,
    ) -> TrailingOrder | None:
        """The trailing order to wait with, or None to place at the next price."""
        ...


@dataclass(frozen=True)
class TrailingExecution:
    """Decided entries and exits wait as trailing orders and fire on a retrace.

    A trailing order that has not fired within `max_duration_ms` (a day by
    default; None waits forever) expires, so a stale entry never blocks new ones.
    """

    max_duration_ms: int | None = 86_400_000
    min_improvement: float = 0.0

    def trailing_order(
        self, side: OrderSide, quantity: Decimal, trail: float, price: float, ts_ms: int,
        purpose: str,
    ) -> TrailingOrder | None:
        return TrailingOrder(
            side=side,
            quantity=quantity,
            trail=trail,
            price=price,
            created_ms=ts_ms,
            max_duration_ms=self.max_duration_ms,
            min_improvement=self.min_improvement,
            tag=purpose,
        )


@dataclass(frozen=True)
class ImmediateExecution:
    """Decided entries and exits are placed at the next observed price."""

    def trailing_order(
        self, side: OrderSide, quantity: Decimal, trail: float, price: float, ts_ms: int,
        purpose: str,
    ) -> TrailingOrder | None:
        return None




class ExitPolicy(Protocol):
    def plan_for(self, decision: Decision) -> ExitPlan | None: ...


@dataclass(frozen=True)
class PlannedExits:
    """The decision's exit plan: stop-loss, take-profit tiers, time stop, trailing stop."""

    def plan_for(self, decision: Decision) -> ExitPlan | None:
        return decision.exit_plan


@dataclass(frozen=True)
class DecidedExitsOnly:
    """No automatic exits: a position closes when a decision says so."""

    def plan_for(self, decision: Decision) -> ExitPlan | None:
        return None
