"""The risk check run before every order, and the breakers it trips.

Guarantees:
- `check` fails closed: a missing mark or non-positive equity refuses the order.
- An order that only reduces an open position (reduce_only, or against the
  position and no larger than it) is always approved, even while paused or
  halted: stops and exits must keep working.
- Any other order is approved only if the session is ACTIVE and it passes:
  position size, concurrent positions, gross exposure (all measured after the
  order), daily trade count, and price drift since the decision (slippage).
- Breakers (`CircuitBreaker`, recorded as events, pausing the session):
  max drawdown from the equity peak and consecutive losses (until an operator
  resumes), daily loss from the UTC day's opening equity and the daily trade
  count (until the next UTC midnight), fill slippage above the limit. The
  emergency stop halts. Resuming re-bases the peak on the current equity and
  clears the loss streak, so the same breaker does not trip again at once.
- `snapshot()` / `RiskGuard(limits, state)` carry peak and daily equity, the
  day's trade count, the loss streak and active trips across a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.engine.clock import DAY_MS, utc_day
from trading.engine.events import BreakerEvent
from trading.engine.orders.model import OrderSide
from trading.engine.portfolio import ClosedTrade, Portfolio
from trading.engine.risk.breaker import BreakerAction, CircuitBreaker, SessionState, Trip
from trading.engine.risk.limits import (
    MarketSnapshot,
    OrderIntent,
    RiskCheck,
    RiskLimits,
    RiskVerdict,
)


@dataclass(frozen=True)
class RiskState:
    """What a checkpoint stores so that a resumed session keeps its limits' memory."""

    peak_equity: Decimal | None = None
    last_equity: Decimal | None = None
    day_open_equity: Decimal | None = None
    day: int | None = None
    trades_today: int = 0
    consecutive_losses: int = 0
    active_trips: tuple[Trip, ...] = ()


class RiskGuard:
    def __init__(self, limits: RiskLimits | None = None, state: RiskState | None = None):
        state = state or RiskState()
        self.limits = limits or RiskLimits()
        self.breaker = CircuitBreaker(state.active_trips)
        self.peak_equity = state.peak_equity
        self.last_equity = state.last_equity
        self.day_open_equity = state.day_open_equity
        self.day = state.day
        self.trades_today = state.trades_today
        self.consecutive_losses = state.consecutive_losses

    def snapshot(self, ts_ms: int) -> RiskState:
        return RiskState(
            self.peak_equity,
            self.last_equity,
            self.day_open_equity,
            self.day,
            self.trades_today,
            self.consecutive_losses,
            tuple(self.breaker.active_trips(ts_ms)),
        )

    def state(self, ts_ms: int) -> SessionState:
        return self.breaker.state(ts_ms)

    # -- observations ------------------------------------------------------------------------

    def observe(self, portfolio: Portfolio, market: MarketSnapshot) -> list[BreakerEvent]:
        """Update peak and daily equity from current marks; trip drawdown / daily loss."""
        equity = portfolio.equity(market.prices)
        self._roll_day(market.ts_ms, equity)
        self.last_equity = equity
        self.peak_equity = equity if self.peak_equity is None else max(self.peak_equity, equity)
        tripped = []
        drawdown = self.drawdown()
        if drawdown >= self.limits.max_drawdown:
            limit = self.limits.max_drawdown
            tripped.append(self._trip("max_drawdown", market.ts_ms, drawdown, limit))
        daily_loss = self.daily_loss()
        if daily_loss >= self.limits.daily_loss_limit:
            limit = self.limits.daily_loss_limit
            tripped.append(
                self._trip("daily_loss", market.ts_ms, daily_loss, limit, until_next_day=True)
            )
        return [e for e in tripped if e is not None]

    def drawdown(self) -> float:
        if not self.peak_equity or self.last_equity is None or self.peak_equity <= 0:
            return 0.0
        return float((self.peak_equity - self.last_equity) / self.peak_equity)

    def daily_loss(self) -> float:
        if not self.day_open_equity or self.last_equity is None or self.day_open_equity <= 0:
            return 0.0
        return max(0.0, float((self.day_open_equity - self.last_equity) / self.day_open_equity))

    def record_closed_trade(self, trade: ClosedTrade) -> BreakerEvent | None:
        """Count the loss streak; trip after `max_consecutive_losses` losing round trips."""
        self.consecutive_losses = self.consecutive_losses + 1 if trade.is_loss else 0
        limit = self.limits.max_consecutive_losses
        if self.consecutive_losses >= limit:
            return self._trip("consecutive_losses", trade.closed_ms, self.consecutive_losses, limit)
        return None

    def record_execution(
        self, side: OrderSide, expected_price: Decimal, fill_price: Decimal, ts_ms: int
    ) -> BreakerEvent | None:
        """Trip the slippage breaker when a fill was worse than expected by more than the limit."""
        slip = float((fill_price - expected_price) / expected_price) * side.sign
        if slip > self.limits.max_slippage:
            return self._trip("slippage", ts_ms, slip, self.limits.max_slippage)
        return None

    def emergency_stop(self, reason: str, ts_ms: int) -> BreakerEvent | None:
        trip = Trip("emergency_stop", BreakerAction.HALT, reason, ts_ms)
        return self.breaker.trip(trip)

    def resume(self, ts_ms: int, reason: str = "resumed by operator") -> list[BreakerEvent]:
        self.peak_equity = self.last_equity
        self.consecutive_losses = 0
        return self.breaker.resume(ts_ms, reason)

    # -- the pre-order check -----------------------------------------------------------------

    def check(
        self, intent: OrderIntent, portfolio: Portfolio, market: MarketSnapshot
    ) -> RiskVerdict:
        needed = {p.symbol for p in portfolio.open_positions} | {intent.symbol}
        missing = sorted(needed - set(market.prices))
        if missing:
            check = RiskCheck("marks", False, message=f"no current price for {', '.join(missing)}")
            return RiskVerdict(False, (check,))
        tripped = tuple(self.observe(portfolio, market))
        if self._reduces_risk(intent, portfolio):
            check = RiskCheck("reduces_risk", True, message="only reduces an open position")
            return RiskVerdict(True, (check,), tripped)
        equity = portfolio.equity(market.prices)
        if equity <= 0:
            check = RiskCheck("equity", False, float(equity), message="equity is not positive")
            return RiskVerdict(False, (check,), tripped)
        trades = _limit_check("daily_trades", self.trades_today + 1, self.limits.max_daily_trades)
        checks = [
            self._session_check(market.ts_ms),
            *self._order_checks(intent, portfolio, market, equity),
            trades,
        ]
        approved = all(c.passed for c in checks)
        if not trades.passed:
            limit = self.limits.max_daily_trades
            event = self._trip(
                "daily_trades", market.ts_ms, self.trades_today, limit, until_next_day=True
            )
            tripped += (event,) if event else ()
        if approved:
            self.trades_today += 1
        return RiskVerdict(approved, tuple(checks), tripped)

    def _order_checks(
        self, intent: OrderIntent, portfolio: Portfolio, market: MarketSnapshot, equity: Decimal
    ) -> list[RiskCheck]:
        limits = self.limits
        mark = market.prices[intent.symbol]
        position = portfolio.position(intent.symbol)
        after = position.quantity + intent.quantity * intent.side.sign
        size = float(abs(after) * mark / equity)
        opens_new = position.quantity == 0
        count = len(portfolio.open_positions) + (1 if opens_new else 0)
        exposure = portfolio.gross_exposure(market.prices) - position.notional(mark)
        exposure_after = float((exposure + abs(after) * mark) / equity)
        drift = float(abs(mark / intent.price - 1))
        return [
            _limit_check("position_size", size, limits.max_position_fraction),
            _limit_check("concurrent_positions", count, limits.max_concurrent_positions),
            _limit_check("exposure", exposure_after, limits.max_exposure),
            _limit_check("slippage", drift, limits.max_slippage),
            _limit_check("drawdown", self.drawdown(), limits.max_drawdown, strict=True),
            _limit_check("daily_loss", self.daily_loss(), limits.daily_loss_limit, strict=True),
        ]

    def _session_check(self, ts_ms: int) -> RiskCheck:
        state = self.breaker.state(ts_ms)
        if state is SessionState.ACTIVE:
            return RiskCheck("session", True)
        why = ", ".join(f"{t.breaker}: {t.reason}" for t in self.breaker.active_trips(ts_ms))
        return RiskCheck("session", False, message=f"session {state.value.lower()} ({why})")

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _reduces_risk(intent: OrderIntent, portfolio: Portfolio) -> bool:
        held = portfolio.position(intent.symbol).quantity
        against = held != 0 and (held > 0) != (intent.side is OrderSide.BUY)
        return against and intent.quantity <= abs(held)

    def _roll_day(self, ts_ms: int, equity: Decimal | None) -> None:
        day = utc_day(ts_ms)
        if self.day != day:
            self.day = day
            self.day_open_equity = equity
            self.trades_today = 0

    def _trip(
        self, name: str, ts_ms: int, value: float, limit: float, *, until_next_day: bool = False
    ) -> BreakerEvent | None:
        resume_at = (utc_day(ts_ms) + 1) * DAY_MS if until_next_day else None
        reason = f"{name.replace('_', ' ')} {value:.4g} reached the limit {limit:.4g}"
        trip = Trip(name, BreakerAction.PAUSE, reason, ts_ms, float(value), float(limit), resume_at)
        return self.breaker.trip(trip)


def _limit_check(name: str, value: float, limit: float, *, strict: bool = False) -> RiskCheck:
    """Passes when value <= limit (value < limit when `strict`)."""
    passed = value < limit if strict else value <= limit
    message = (
        "" if passed else f"{name.replace('_', ' ')} {value:.4g} exceeds the limit {limit:.4g}"
    )
    return RiskCheck(name, passed, float(value), float(limit), message)
