"""From a consensus to a decision: trade or skip, how much, and how to get out.

Guarantees:
- `decide` returns a frozen `Decision` for every call, skips included, with the
  reasons it traded or skipped in plain words.
- An entry needs the risk profile's buy threshold (or the first-entry rule:
  price down `first_entry_drop` from the session start, or one agent surer of a
  buy than `first_entry_agent_confidence`); an exit needs the sell threshold.
  Spot and long-only: a sell closes what is held, never opens a short.
- Entry size = min(confidence-scaled base size, Kelly x safety, risk limit
  (loss at the stop = `risk_per_trade` of equity; per-position and exposure
  caps), liquidity cap, cash), rounded DOWN to the instrument's lot; under the
  minimum quantity or notional it is a skip, never an order rounded up.
- The exit plan's stop scales with volatility and never exceeds
  `max_stop_loss` (at most 15%); take-profit tiers come from the profile; the
  trailing stop is set only for entries above `trailing_stop_confidence`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from trading.engine.agents.base import AgentAction, AgentSignal
from trading.engine.consensus import Consensus
from trading.engine.money import round_down, to_decimal
from trading.engine.risk_profiles import RiskProfile, TakeProfitTier

MAX_CONFIDENCE_SCALE = 2.0  # a sure signal may size up to twice the base size


class DecisionAction(StrEnum):
    TRAIL_BUY = "TRAIL_BUY"
    TRAIL_SELL = "TRAIL_SELL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class LotRules:
    """An instrument's order-size rules: quantity step, minimum quantity and value."""

    lot_size: Decimal
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("lot_size", "min_qty", "min_notional"):
            value = to_decimal(getattr(self, name))
            if value < 0 or (name == "lot_size" and value == 0):
                raise ValueError(f"LotRules.{name} must be >= 0 (lot_size > 0), got {value}")
            object.__setattr__(self, name, value)

    def round_down(self, quantity: float) -> Decimal:
        """`quantity` rounded down to a whole number of lots (never up)."""
        if not math.isfinite(quantity) or quantity <= 0:
            return Decimal(0)
        return round_down(to_decimal(quantity), self.lot_size)

    def tradable(self, quantity: Decimal, price: float) -> str:
        """Empty when the order meets the minimums, else why it does not."""
        if quantity <= 0:
            return "quantity rounds down to zero lots"
        if quantity < self.min_qty:
            return f"quantity {quantity} is under the minimum {self.min_qty}"
        notional = quantity * to_decimal(price)
        if notional < self.min_notional:
            return f"order value {notional:.2f} is under the minimum {self.min_notional}"
        return ""


@dataclass(frozen=True)
class TradeStats:
    """A strategy's realised record, for Kelly sizing."""

    trades: int
    win_rate: float
    avg_win: float  # mean return of winners, fraction
    avg_loss: float  # mean loss of losers as a positive fraction


@dataclass(frozen=True)
class DecisionContext:
    """The account and market facts a decision needs (all amounts in quote currency)."""

    timestamp_ms: int
    symbol: str
    price: float
    equity: float
    cash: float
    lot_rules: LotRules
    daily_volatility: float
    avg_bar_volume: float
    position_qty: float = 0.0
    open_positions: int = 0
    exposure: float = 0.0  # value of all open positions
    track_record: TradeStats | None = None
    session_start_price: float | None = None
    awaiting_first_entry: bool = False

    def __post_init__(self) -> None:
        for name in ("price", "equity", "cash", "daily_volatility", "avg_bar_volume", "exposure"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (name == "price" and value == 0):
                raise ValueError(f"DecisionContext.{name} must be finite and >= 0, got {value!r}")


@dataclass(frozen=True)
class ExitPlan:
    """How a new position will be closed; every level is a fraction of the entry price."""

    stop_loss: float
    take_profits: tuple[TakeProfitTier, ...]
    time_stop_ms: int
    trailing_stop: float | None

    def stop_price(self, entry_price: float) -> float:
        return entry_price * (1.0 - self.stop_loss)

    def target_prices(self, entry_price: float) -> tuple[float, ...]:
        return tuple(entry_price * (1.0 + t.gain) for t in self.take_profits)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stop_loss": self.stop_loss,
            "take_profits": [
                {"gain": t.gain, "fraction": t.fraction, "label": t.label}
                for t in self.take_profits
            ],
            "time_stop_ms": self.time_stop_ms,
            "trailing_stop": self.trailing_stop,
        }


@dataclass(frozen=True)
class PositionSize:
    """Every sizing limit (as order value) and the one that bound."""

    limits: Mapping[str, float]
    binding: str
    quantity: Decimal
    notional: float
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "limits": dict(self.limits),
            "binding": self.binding,
            "quantity": str(self.quantity),
            "notional": self.notional,
            "note": self.note,
        }


@dataclass(frozen=True)
class Decision:
    """One decision at one closed bar, with its full reasoning."""

    timestamp_ms: int
    symbol: str
    action: DecisionAction
    consensus_action: AgentAction
    confidence: float
    threshold: float | None
    price: float
    quantity: Decimal
    trail_distance: float
    tolerance: str
    reasons: tuple[str, ...]
    exit_plan: ExitPlan | None = None
    sizing: PositionSize | None = None

    @property
    def traded(self) -> bool:
        return self.action is not DecisionAction.SKIP

    @property
    def reasoning(self) -> str:
        return "; ".join(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "timestamp_ms": self.timestamp_ms,
            "symbol": self.symbol,
            "action": self.action.value,
            "consensus_action": self.consensus_action.value,
            "confidence": self.confidence,
            "threshold": self.threshold,
            "price": self.price,
            "quantity": str(self.quantity),
            "trail_distance": self.trail_distance,
            "tolerance": self.tolerance,
            "reasoning": self.reasoning,
            "exit_plan": self.exit_plan.as_dict() if self.exit_plan else None,
            "sizing": self.sizing.as_dict() if self.sizing else None,
        }


def plan_exit(
    confidence: float, daily_volatility: float, trail_distance: float, profile: RiskProfile
) -> ExitPlan:
    """Stop = max(base stop, multiple x daily volatility), capped at the profile's maximum."""
    scaled = max(profile.stop_loss_base, profile.stop_volatility_multiple * daily_volatility)
    stop = min(scaled, profile.max_stop_loss)
    trailing = trail_distance if confidence > profile.trailing_stop_confidence else None
    return ExitPlan(
        stop_loss=stop,
        take_profits=profile.take_profits,
        time_stop_ms=profile.time_stop_ms,
        trailing_stop=trailing,
    )


def kelly_fraction(win_rate: float, payoff: float) -> float:
    """Kelly's optimal fraction p - (1 - p) / b (negative when the edge is negative)."""
    if payoff <= 0:
        return -1.0
    return win_rate - (1.0 - win_rate) / payoff


def size_position(
    confidence: float, threshold: float, plan: ExitPlan, ctx: DecisionContext, profile: RiskProfile
) -> PositionSize:
    """The entry size: the smallest of all limits, rounded down to the lot size."""
    kelly, kelly_note = _kelly_limit(confidence, plan, ctx, profile)
    scale = min(MAX_CONFIDENCE_SCALE, confidence / threshold) if threshold > 0 else 1.0
    limits = {
        "base": ctx.equity * profile.base_position_fraction * scale,
        "kelly": kelly,
        "risk": ctx.equity * profile.risk_per_trade / plan.stop_loss,
        "position_cap": ctx.equity * profile.max_position_fraction,
        "exposure": max(0.0, ctx.equity * profile.max_exposure - ctx.exposure),
        "liquidity": ctx.avg_bar_volume * ctx.price * profile.liquidity_participation,
        "cash": ctx.cash,
    }
    binding = min(limits, key=lambda k: limits[k])
    quantity = ctx.lot_rules.round_down(limits[binding] / ctx.price)
    problem = ctx.lot_rules.tradable(quantity, ctx.price)
    if problem:
        quantity = Decimal(0)
    note = "; ".join(x for x in (kelly_note, problem) if x)
    return PositionSize(
        limits=MappingProxyType(limits),
        binding=binding,
        quantity=quantity,
        notional=float(quantity) * ctx.price,
        note=note,
    )


def _kelly_limit(
    confidence: float, plan: ExitPlan, ctx: DecisionContext, profile: RiskProfile
) -> tuple[float, str]:
    record = ctx.track_record
    if record is not None and record.trades >= profile.kelly_min_trades and record.avg_loss > 0:
        p, b = record.win_rate, record.avg_win / record.avg_loss
        source = f"Kelly from {record.trades} trades (win rate {p:.0%}, payoff {b:.2f})"
    else:
        first_target = plan.take_profits[0].gain if plan.take_profits else plan.stop_loss
        p, b = confidence, first_target / plan.stop_loss
        source = f"Kelly from confidence {p:.2f} and reward/risk {b:.2f}"
    fraction = kelly_fraction(p, b)
    return ctx.equity * max(0.0, fraction) * profile.kelly_safety, f"{source}: f*={fraction:.3f}"


def decide(
    consensus: Consensus,
    ctx: DecisionContext,
    profile: RiskProfile,
    signals: Sequence[AgentSignal] = (),
) -> Decision:
    """Trade or skip on `consensus` (and, for the first entry, on single `signals`)."""
    head = f"consensus {consensus.action.value} at {consensus.confidence:.2f}"
    if consensus.action is AgentAction.TRAIL_SELL:
        return _decide_exit(consensus, ctx, profile, [head])
    trigger = _entry_trigger(consensus, ctx, profile, signals)
    if trigger is None:
        return _skip(consensus, ctx, profile, [head, _why_no_entry(consensus, ctx, profile)])
    confidence, threshold, reason = trigger
    return _decide_entry(consensus, ctx, profile, confidence, threshold, [head, reason])


def _entry_trigger(
    consensus: Consensus, ctx: DecisionContext, profile: RiskProfile, signals: Sequence[AgentSignal]
) -> tuple[float, float, str] | None:
    threshold = profile.min_buy_confidence
    if (
        consensus.action is AgentAction.TRAIL_BUY
        and consensus.confidence >= threshold
        and consensus.disagreement <= profile.max_disagreement
    ):
        reason = f"{consensus.confidence:.2f} >= {profile.tolerance} buy threshold {threshold}"
        return consensus.confidence, threshold, reason
    if not ctx.awaiting_first_entry:
        return None
    start = ctx.session_start_price
    if start and ctx.price <= start * (1.0 - profile.first_entry_drop):
        drop = 1.0 - ctx.price / start
        reason = f"first entry: price {drop:.1%} below the session start {start:g}"
        return max(threshold, consensus.confidence), threshold, reason
    buyers = [s for s in signals if s.action is AgentAction.TRAIL_BUY]
    strongest = max(buyers, key=lambda s: s.confidence, default=None)
    if strongest is not None and strongest.confidence > profile.first_entry_agent_confidence:
        reason = (
            f"first entry: {strongest.agent} buys at {strongest.confidence:.2f} "
            f"> {profile.first_entry_agent_confidence}"
        )
        return strongest.confidence, profile.first_entry_agent_confidence, reason
    return None


def _why_no_entry(consensus: Consensus, ctx: DecisionContext, profile: RiskProfile) -> str:
    if consensus.action is AgentAction.HOLD:
        return "agents advise HOLD"
    if consensus.confidence < profile.min_buy_confidence:
        return (
            f"confidence {consensus.confidence:.2f} below the {profile.tolerance} "
            f"buy threshold {profile.min_buy_confidence}"
        )
    return (
        f"disagreement {consensus.disagreement:.2f} above the {profile.tolerance} "
        f"limit {profile.max_disagreement}"
    )


def _decide_entry(
    consensus: Consensus,
    ctx: DecisionContext,
    profile: RiskProfile,
    confidence: float,
    threshold: float,
    reasons: list[str],
) -> Decision:
    if ctx.position_qty > 0:
        return _skip(consensus, ctx, profile, [*reasons, f"already holding {ctx.position_qty:g}"])
    if ctx.open_positions >= profile.max_positions:
        limit = f"{ctx.open_positions} open positions, the limit is {profile.max_positions}"
        return _skip(consensus, ctx, profile, [*reasons, limit])
    trail = consensus.trail_distance
    plan = plan_exit(confidence, ctx.daily_volatility, trail, profile)
    size = size_position(confidence, threshold, plan, ctx, profile)
    sizing_reason = _explain_size(size)
    if size.quantity <= 0:
        return _skip(consensus, ctx, profile, [*reasons, sizing_reason], sizing=size)
    plan_reason = _explain_plan(plan)
    return Decision(
        timestamp_ms=ctx.timestamp_ms,
        symbol=ctx.symbol,
        action=DecisionAction.TRAIL_BUY,
        consensus_action=consensus.action,
        confidence=confidence,
        threshold=threshold,
        price=ctx.price,
        quantity=size.quantity,
        trail_distance=trail,
        tolerance=profile.tolerance,
        reasons=(*reasons, sizing_reason, plan_reason),
        exit_plan=plan,
        sizing=size,
    )


def _decide_exit(
    consensus: Consensus, ctx: DecisionContext, profile: RiskProfile, reasons: list[str]
) -> Decision:
    threshold = profile.min_sell_confidence
    if ctx.position_qty <= 0:
        return _skip(consensus, ctx, profile, [*reasons, "nothing held to sell (long only)"])
    if consensus.confidence < threshold:
        why = f"confidence below the {profile.tolerance} sell threshold {threshold}"
        return _skip(consensus, ctx, profile, [*reasons, why])
    quantity = ctx.lot_rules.round_down(ctx.position_qty)
    if quantity <= 0:
        return _skip(consensus, ctx, profile, [*reasons, "position is smaller than one lot"])
    why = f"{consensus.confidence:.2f} >= {profile.tolerance} sell threshold {threshold}"
    return Decision(
        timestamp_ms=ctx.timestamp_ms,
        symbol=ctx.symbol,
        action=DecisionAction.TRAIL_SELL,
        consensus_action=consensus.action,
        confidence=consensus.confidence,
        threshold=threshold,
        price=ctx.price,
        quantity=quantity,
        trail_distance=consensus.trail_distance,
        tolerance=profile.tolerance,
        reasons=(*reasons, why, f"close {quantity} with a trailing sell"),
    )


def _skip(
    consensus: Consensus,
    ctx: DecisionContext,
    profile: RiskProfile,
    reasons: list[str],
    sizing: PositionSize | None = None,
) -> Decision:
    return Decision(
        timestamp_ms=ctx.timestamp_ms,
        symbol=ctx.symbol,
        action=DecisionAction.SKIP,
        consensus_action=consensus.action,
        confidence=consensus.confidence,
        threshold=None,
        price=ctx.price,
        quantity=Decimal(0),
        trail_distance=consensus.trail_distance,
        tolerance=profile.tolerance,
        reasons=(*reasons, "skip"),
        sizing=sizing,
    )


def _explain_size(size: PositionSize) -> str:
    limits = ", ".join(f"{k} {v:,.2f}" for k, v in size.limits.items())
    text = f"size {size.quantity} ({size.notional:,.2f}) = min({limits}), {size.binding} binds"
    return f"{text}; {size.note}" if size.note else text


def _explain_plan(plan: ExitPlan) -> str:
    tiers = ", ".join(f"{t.fraction:.0%} at +{t.gain:.0%}" for t in plan.take_profits)
    trailing = (
        f"trailing stop {plan.trailing_stop:.2%}" if plan.trailing_stop else "no trailing stop"
    )
    hours = plan.time_stop_ms / 3_600_000
    return f"stop {plan.stop_loss:.2%}, take profit {tiers}, time stop {hours:g}h, {trailing}"
