"""Positions and cash, booked from fills in Decimal; long and short.

Guarantees, for any sequence of fills (all in one quote currency):
- cash changes by exactly -signed_quantity * price - fee per fill (a short sale
  credits its proceeds, like a margin or perpetual account without funding).
- Each position keeps its signed quantity and its cost basis (the signed entry
  value of what is still open), so the average entry is cost / quantity and
  realised P&L on a reduction is the exit value minus the matching share of the
  cost basis; a fill that crosses zero closes the trade and opens the other side
  at the fill price.
- The books always reconcile exactly (the cost basis released by a partial
  close is the one rounded value, to 1e-12, and it is booked on both sides):
      cash + sum(cost basis) - realised P&L + fees == initial cash
      equity(marks) == initial cash + realised P&L - fees + unrealised P&L(marks)
  (fees are kept apart from realised P&L, which is gross).
- Closing a position (back to flat, or through zero) returns a `ClosedTrade`
  with its round-trip figures, fees shared pro rata when one fill both closes
  and opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from trading.engine.money import ZERO, Number, to_decimal
from trading.engine.orders.model import Fill

# Cost basis released by a partial close is rounded to this; all other booking is exact
# (sums and products of prices, quantities and fees fit Decimal's 28 digits).
BASIS_QUANTUM = Decimal("1e-12")


@dataclass(frozen=True)
class Position:
    symbol: str
    quantity: Decimal = ZERO  # > 0 long, < 0 short
    cost_basis: Decimal = ZERO  # signed entry value of the open quantity
    opened_ms: int | None = None
    realized_pnl: Decimal = ZERO  # gross, since this position opened
    fees: Decimal = ZERO  # since this position opened
    entry_quantity: Decimal = ZERO
    entry_value: Decimal = ZERO
    exit_quantity: Decimal = ZERO
    exit_value: Decimal = ZERO

    @property
    def direction(self) -> str:
        if self.quantity > 0:
            return "LONG"
        return "SHORT" if self.quantity < 0 else "FLAT"

    @property
    def is_open(self) -> bool:
        return self.quantity != 0

    @property
    def average_entry(self) -> Decimal | None:
        return None if self.quantity == 0 else self.cost_basis / self.quantity

    def unrealized_pnl(self, mark: Number) -> Decimal:
        return self.quantity * to_decimal(mark) - self.cost_basis

    def notional(self, mark: Number) -> Decimal:
        return abs(self.quantity) * to_decimal(mark)


@dataclass(frozen=True)
class ClosedTrade:
    """One round trip, from flat (or a flip) back to flat (or the next flip)."""

    symbol: str
    direction: str
    opened_ms: int
    closed_ms: int
    quantity: Decimal
    average_entry: Decimal
    average_exit: Decimal
    realized_pnl: Decimal
    fees: Decimal

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees

    @property
    def return_fraction(self) -> Decimal:
        return self.net_pnl / (self.quantity * self.average_entry)

    @property
    def hold_ms(self) -> int:
        return self.closed_ms - self.opened_ms

    @property
    def is_loss(self) -> bool:
        return self.net_pnl < 0


@dataclass(frozen=True)
class PortfolioState:
    """Everything a checkpoint needs to rebuild a `Portfolio`."""

    quote: str
    initial_cash: Decimal
    cash: Decimal
    realized_pnl: Decimal
    fees: Decimal
    positions: tuple[Position, ...] = field(default_factory=tuple)


class Portfolio:
    def __init__(self, cash: Number, *, quote: str = "USDT") -> None:
        self.quote = quote
        self.initial_cash = to_decimal(cash)
        self.cash = self.initial_cash
        self.realized_pnl = ZERO
        self.fees = ZERO
        self._positions: dict[str, Position] = {}

    @classmethod
    def restore(cls, state: PortfolioState) -> Portfolio:
        portfolio = cls(state.initial_cash, quote=state.quote)
        portfolio.cash = state.cash
        portfolio.realized_pnl = state.realized_pnl
        portfolio.fees = state.fees
        portfolio._positions = {p.symbol: p for p in state.positions}
        return portfolio

    def snapshot(self) -> PortfolioState:
        open_positions = tuple(p for p in self._positions.values() if p.is_open)
        return PortfolioState(
            self.quote, self.initial_cash, self.cash, self.realized_pnl, self.fees, open_positions
        )

    # -- queries -----------------------------------------------------------------------------

    def position(self, symbol: str) -> Position:
        return self._positions.get(symbol) or Position(symbol)

    @property
    def open_positions(self) -> list[Position]:
        return [p for p in self._positions.values() if p.is_open]

    def unrealized_pnl(self, marks: Mapping[str, Number]) -> Decimal:
        return sum((p.unrealized_pnl(marks[p.symbol]) for p in self.open_positions), ZERO)

    def equity(self, marks: Mapping[str, Number]) -> Decimal:
        """Cash plus the marked value of every open position (shorts count negative)."""
        held = sum((p.quantity * to_decimal(marks[p.symbol]) for p in self.open_positions), ZERO)
        return self.cash + held

    def gross_exposure(self, marks: Mapping[str, Number]) -> Decimal:
        return sum((p.notional(marks[p.symbol]) for p in self.open_positions), ZERO)

    # -- booking -----------------------------------------------------------------------------

    def apply(self, fill: Fill) -> ClosedTrade | None:
        """Book one fill; the round trip it completes, if any."""
        signed = fill.quantity * fill.side.sign
        self.cash -= signed * fill.price + fill.fee
        self.fees += fill.fee
        position = self.position(fill.symbol)
        if position.quantity == 0 or (position.quantity > 0) == (signed > 0):
            self._positions[fill.symbol] = _increased(position, fill, fill.quantity, fill.fee)
            return None
        closing = min(fill.quantity, abs(position.quantity))
        close_fee = fill.fee if closing == fill.quantity else fill.fee * closing / fill.quantity
        reduced, trade = self._reduced(position, fill, closing, close_fee)
        remainder = fill.quantity - closing
        if remainder > 0:
            reduced = _increased(Position(fill.symbol), fill, remainder, fill.fee - close_fee)
        self._positions[fill.symbol] = reduced
        return trade

    def _reduced(
        self, position: Position, fill: Fill, closing: Decimal, fee: Decimal
    ) -> tuple[Position, ClosedTrade | None]:
        open_size = abs(position.quantity)
        if closing == open_size:
            removed = position.cost_basis
        else:
            # the only division in the books: quantised so that every later sum stays exact
            removed = (position.cost_basis * closing / open_size).quantize(BASIS_QUANTUM)
        direction = 1 if position.quantity > 0 else -1
        pnl = direction * closing * fill.price - removed
        self.realized_pnl += pnl
        reduced = replace(
            position,
            quantity=position.quantity - direction * closing,
            cost_basis=position.cost_basis - removed,
            realized_pnl=position.realized_pnl + pnl,
            fees=position.fees + fee,
            exit_quantity=position.exit_quantity + closing,
            exit_value=position.exit_value + closing * fill.price,
        )
        if reduced.quantity != 0:
            return reduced, None
        return Position(position.symbol), _round_trip(reduced, position.direction, fill.ts_ms)


def _increased(position: Position, fill: Fill, quantity: Decimal, fee: Decimal) -> Position:
    signed = quantity * fill.side.sign
    return replace(
        position,
        quantity=position.quantity + signed,
        cost_basis=position.cost_basis + signed * fill.price,
        opened_ms=fill.ts_ms if position.opened_ms is None else position.opened_ms,
        fees=position.fees + fee,
        entry_quantity=position.entry_quantity + quantity,
        entry_value=position.entry_value + quantity * fill.price,
    )


def _round_trip(closed: Position, direction: str, closed_ms: int) -> ClosedTrade:
    assert closed.opened_ms is not None
    return ClosedTrade(
        symbol=closed.symbol,
        direction=direction,
        opened_ms=closed.opened_ms,
        closed_ms=closed_ms,
        quantity=closed.entry_quantity,
        average_entry=closed.entry_value / closed.entry_quantity,
        average_exit=closed.exit_value / closed.exit_quantity,
        realized_pnl=closed.realized_pnl,
        fees=closed.fees,
    )
