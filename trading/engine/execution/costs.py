"""The cost model of simulated execution: spread, fees, slippage, participation.

Guarantees: a taker buy never fills below the observed price and a taker sell
never above it; the adverse move is half the spread + fixed slippage + impact
proportional to the share of the available volume taken. Makers pay no spread
or slippage. Fees are the notional times the maker or taker rate. All money
arithmetic is Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.engine.money import ZERO
from trading.engine.orders.model import Liquidity, OrderSide


@dataclass(frozen=True)
class PaperCosts:
    spread: Decimal = Decimal("0.0002")  # full bid-ask spread as a fraction of price
    maker_fee: Decimal = Decimal("0.001")  # Binance spot default tier
    taker_fee: Decimal = Decimal("0.001")
    slippage: Decimal = Decimal("0.0005")  # fixed adverse move on every taker fill
    impact: Decimal = Decimal("0.01")  # extra adverse move per unit of participation
    max_participation: Decimal | None = Decimal("0.1")  # share of a price point's volume

    def __post_init__(self) -> None:
        for name in ("spread", "maker_fee", "taker_fee", "slippage", "impact"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        cap = self.max_participation
        if cap is not None and not (ZERO < cap <= 1):
            raise ValueError("max_participation must be in (0, 1] or None")

    @property
    def worst_fee(self) -> Decimal:
        return max(self.maker_fee, self.taker_fee)

    def adverse_move(self, participation: Decimal) -> Decimal:
        """Fraction a taker fill loses against the observed price."""
        return self.spread / 2 + self.slippage + self.impact * participation

    def taker_price(self, side: OrderSide, price: Decimal, participation: Decimal) -> Decimal:
        move = self.adverse_move(participation)
        return price * (1 + move) if side is OrderSide.BUY else price * (1 - move)

    def fee(self, notional: Decimal, liquidity: Liquidity) -> Decimal:
        rate = self.maker_fee if liquidity is Liquidity.MAKER else self.taker_fee
        return notional * rate
