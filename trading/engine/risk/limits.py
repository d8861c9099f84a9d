"""Risk limits and the values a risk check reads and returns.

Guarantees: limits are validated on construction (fractions in (0, 1], counts
>= 1), so a session can never run with a nonsensical limit; a `RiskVerdict`
lists every check it ran, passed or not, so a refusal always says why.
Defaults come from the design notes (15% drawdown, 25% of equity per position,
5 concurrent positions, 5% daily loss, 3 consecutive losses, 10 trades a day,
3% slippage).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from trading.engine.events import BreakerEvent
from trading.engine.orders.model import OrderSide


@dataclass(frozen=True)
class RiskLimits:
    max_drawdown: float = 0.15  # from the equity peak
    max_position_fraction: float = 0.25  # one position's notional / equity
    max_concurrent_positions: int = 5
    daily_loss_limit: float = 0.05  # from equity at the start of the UTC day
    max_consecutive_losses: int = 3
    max_daily_trades: int = 10  # new-risk orders approved per UTC day
    max_slippage: float = 0.03  # decision price vs market or fill price
    max_exposure: float = 1.0  # gross notional / equity (1.0 = no leverage)

    def __post_init__(self) -> None:
        for name in ("max_drawdown", "max_position_fraction", "daily_loss_limit", "max_slippage"):
            value = getattr(self, name)
            if not (0.0 < value <= 1.0):
                raise ValueError(f"{name} must be a fraction in (0, 1], got {value}")
        for name in ("max_concurrent_positions", "max_consecutive_losses", "max_daily_trades"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.max_exposure <= 0:
            raise ValueError("max_exposure must be positive")


@dataclass(frozen=True)
class OrderIntent:
    """An order the engine wants to place, before it becomes an `Order`."""

    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal  # the price the decision was made at
    reduce_only: bool = False
    tag: str = ""

    def __post_init__(self) -> None:
        if self.quantity <= 0 or self.price <= 0:
            raise ValueError("an order intent needs a positive quantity and price")


@dataclass(frozen=True)
class MarketSnapshot:
    """Current marks: every open position's symbol and the intent's symbol."""

    ts_ms: int
    prices: Mapping[str, Decimal]


@dataclass(frozen=True)
class RiskCheck:
    name: str
    passed: bool
    value: float | None = None
    limit: float | None = None
    message: str = ""


@dataclass(frozen=True)
class RiskVerdict:
    approved: bool
    checks: tuple[RiskCheck, ...]
    tripped: tuple[BreakerEvent, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[RiskCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def reason(self) -> str:
        return "; ".join(c.message or c.name for c in self.failed)
