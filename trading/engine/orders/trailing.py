"""Trailing buy and sell orders: follow the price, execute on a retrace.

Guarantees:
- A trailing BUY tracks the lowest price seen (its best price) and triggers when
  the price rises `trail` (a fraction, 0.02 = 2%) above it; a trailing SELL tracks
  the highest price and triggers when the price falls `trail` below it.
- The trigger only ever moves in the trader's favour (down for a buy, up for a
  sell): that is order improvement. With `min_improvement` > 0 it moves only
  when the best price improved by at least that fraction, so a live venue is not
  flooded with amendments for every tick.
- With an `activation_price` the order waits until the price reaches it (at or
  below for a buy, at or above for a sell) before it starts trailing.
- At or after `expires_ms` (created + max duration) the order expires on its
  next price and never triggers.
- It triggers at most once; `on_price` after that (or after cancel/expiry)
  returns None. `snapshot()` / `restore()` round-trip the complete state, so a
  session resumed after a crash continues the same trail.
Prices here are floats (market observations); the quantity is a Decimal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from trading.engine.money import Number, to_decimal
from trading.engine.orders.model import OrderSide


class TrailingStatus(StrEnum):
    WAITING = "WAITING"  # activation price not reached yet
    TRACKING = "TRACKING"
    TRIGGERED = "TRIGGERED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class Trigger:
    """A trailing order fired: the caller now places the real order."""

    ts_ms: int
    side: OrderSide
    quantity: Decimal
    price: float  # the observed price that crossed the trigger
    trigger_price: float
    best_price: float
    trail: float
    tag: str = ""


@dataclass(frozen=True)
class TrailingState:
    """Everything a `TrailingOrder` knows; what a checkpoint stores."""

    side: OrderSide
    quantity: Decimal
    trail: float
    created_ms: int
    status: TrailingStatus
    best_price: float | None
    expires_ms: int | None = None
    activation_price: float | None = None
    min_improvement: float = 0.0
    improvements: int = 0
    updated_ms: int = 0
    tag: str = ""


def _check_price(price: float) -> None:
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"price must be positive and finite, got {price!r}")


def _check_trail(trail: float) -> None:
    if not (0.0 < trail < 1.0):
        raise ValueError(f"trail must be a fraction in (0, 1), got {trail!r}")


class TrailingOrder:
    """One trailing order. Feed it prices in time order with `on_price`."""

    def __init__(
        self,
        *,
        side: OrderSide,
        quantity: Number,
        trail: float,
        price: float,
        created_ms: int,
        max_duration_ms: int | None = None,
        activation_price: float | None = None,
        min_improvement: float = 0.0,
        tag: str = "",
    ) -> None:
        _check_price(price)
        _check_trail(trail)
        if activation_price is not None:
            _check_price(activation_price)
        if max_duration_ms is not None and max_duration_ms <= 0:
            raise ValueError("max_duration_ms must be positive")
        if not (0.0 <= min_improvement < 1.0):
            raise ValueError("min_improvement must be a fraction in [0, 1)")
        qty = to_decimal(quantity)
        if qty <= 0:
            raise ValueError("quantity must be positive")
        state = TrailingState(
            side=side,
            quantity=qty,
            trail=trail,
            created_ms=created_ms,
            status=TrailingStatus.WAITING,
            best_price=None,
            expires_ms=None if max_duration_ms is None else created_ms + max_duration_ms,
            activation_price=activation_price,
            min_improvement=min_improvement,
            updated_ms=created_ms,
            tag=tag,
        )
        self._state = state
        if activation_price is None or self._reached_activation(price):
            self._state = replace(state, status=TrailingStatus.TRACKING, best_price=price)

    @classmethod
    def restore(cls, state: TrailingState) -> TrailingOrder:
        order = cls.__new__(cls)
        order._state = state
        return order

    def snapshot(self) -> TrailingState:
        return self._state

    # -- read-only view ----------------------------------------------------------------------

    @property
    def side(self) -> OrderSide:
        return self._state.side

    @property
    def quantity(self) -> Decimal:
        return self._state.quantity

    @property
    def trail(self) -> float:
        return self._state.trail

    @property
    def status(self) -> TrailingStatus:
        return self._state.status

    @property
    def is_active(self) -> bool:
        status = self._state.status
        return status is TrailingStatus.TRACKING or status is TrailingStatus.WAITING

    @property
    def best_price(self) -> float | None:
        return self._state.best_price

    @property
    def expires_ms(self) -> int | None:
        return self._state.expires_ms

    @property
    def improvements(self) -> int:
        """How many times the trigger moved in the trader's favour."""
        return self._state.improvements

    @property
    def trigger_price(self) -> float | None:
        best = self._state.best_price
        if best is None:
            return None
        if self._state.side is OrderSide.BUY:
            return best * (1.0 + self._state.trail)
        return best * (1.0 - self._state.trail)

    # -- events ------------------------------------------------------------------------------

    def on_price(self, price: float, ts_ms: int) -> Trigger | None:
        """Observe one price; a `Trigger` when the retrace reached the trail distance."""
        _check_price(price)
        if not self.is_active:
            return None
        if self._state.expires_ms is not None and ts_ms >= self._state.expires_ms:
            self._state = replace(self._state, status=TrailingStatus.EXPIRED, updated_ms=ts_ms)
            return None
        if self._state.status is TrailingStatus.WAITING:
            if self._reached_activation(price):
                self._state = replace(
                    self._state, status=TrailingStatus.TRACKING, best_price=price, updated_ms=ts_ms
                )
            return None
        self._improve(price, ts_ms)
        return self._fire_if_crossed(price, ts_ms)

    def retrail(self, trail: float, ts_ms: int) -> None:
        """Change the trail distance (e.g. volatility changed); the best price is kept."""
        _check_trail(trail)
        if not self.is_active:
            raise ValueError(f"cannot retrail a {self.status.value} trailing order")
        self._state = replace(self._state, trail=trail, updated_ms=ts_ms)

    def cancel(self, ts_ms: int) -> None:
        if not self.is_active:
            raise ValueError(f"cannot cancel a {self.status.value} trailing order")
        self._state = replace(self._state, status=TrailingStatus.CANCELLED, updated_ms=ts_ms)

    # -- internals ---------------------------------------------------------------------------

    def _reached_activation(self, price: float) -> bool:
        activation = self._state.activation_price
        if activation is None:
            return True
        return price <= activation if self._state.side is OrderSide.BUY else price >= activation

    def _improve(self, price: float, ts_ms: int) -> None:
        best = self._state.best_price
        assert best is not None
        step = self._state.min_improvement
        if self._state.side is OrderSide.BUY:
            better = price < best * (1.0 - step) if step else price < best
        else:
            better = price > best * (1.0 + step) if step else price > best
        if better:
            self._state = replace(
                self._state,
                best_price=price,
                improvements=self._state.improvements + 1,
                updated_ms=ts_ms,
            )

    def _fire_if_crossed(self, price: float, ts_ms: int) -> Trigger | None:
        trigger = self.trigger_price
        best = self._state.best_price
        assert trigger is not None and best is not None
        crossed = price >= trigger if self._state.side is OrderSide.BUY else price <= trigger
        if not crossed:
            return None
        self._state = replace(self._state, status=TrailingStatus.TRIGGERED, updated_ms=ts_ms)
        return Trigger(
            ts_ms=ts_ms,
            side=self._state.side,
            quantity=self._state.quantity,
            price=price,
            trigger_price=trigger,
            best_price=best,
            trail=self._state.trail,
            tag=self._state.tag,
        )


@dataclass(frozen=True)
class TrailBounds:
    """Allowed trail distances for one market condition (fractions)."""

    low: float
    target: float
    high: float


# From the design notes' anti-slippage trail configuration.
TRAIL_BOUNDS: dict[str, TrailBounds] = {
    "volatile": TrailBounds(0.02, 0.03, 0.05),
    "normal": TrailBounds(0.01, 0.015, 0.03),
    "calm": TrailBounds(0.005, 0.01, 0.02),
}


def volatility_scaled_trail(
    base: float, volatility: float, liquidity: float, bounds: TrailBounds
) -> float:
    """Wider trails in volatile or illiquid markets so noise does not trigger them.

    `volatility` is a per-bar fraction (2% volatility doubles the base trail),
    `liquidity` a score in [0, 1] (0 = illiquid doubles it again); the result
    is clamped to `bounds`.
    """
    if not (0.0 <= liquidity <= 1.0):
        raise ValueError("liquidity score must be in [0, 1]")
    if volatility < 0 or base <= 0:
        raise ValueError("base must be positive and volatility non-negative")
    scaled = base * (1.0 + volatility / 0.02) * (2.0 - liquidity)
    return min(max(scaled, bounds.low), bounds.high)
