"""The kernel's own events: closed-trade records, equity marks, trailing orders, order histories.

Guarantees:
- Every event is a frozen `EngineEvent` carrying plain values (str, int, float,
  Decimal, tuples, mappings) like those of `trading.engine.events`.
- `TradeClosedEvent` holds the full entry context (market state, indicators,
  each agent's signal, regime, consensus, the decision and its reasoning) and
  the outcome: P&L net of fees, return on the entry value, fees, hold time,
  maximum adverse and favourable excursions, the best exit price the trade
  saw and the efficiency of the actual exit against it, and an outcome
  category from `OutcomeBands`.
- `LazyMapping` is a read-only mapping computed on first access, so a
  per-candle event can offer a large JSON payload that costs nothing unless
  a subscriber reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trading.engine.events import EngineEvent, OrderEvent
from trading.engine.orders.model import Order


class LazyMapping(Mapping[str, Any]):
    """A mapping whose content is computed by `compute()` the first time it is read."""

    __slots__ = ("_compute", "_data")

    def __init__(self, compute: Callable[[], dict[str, Any]]) -> None:
        self._compute: Callable[[], dict[str, Any]] | None = compute
        self._data: dict[str, Any] | None = None

    def _loaded(self) -> dict[str, Any]:
        if self._data is None:
            assert self._compute is not None
            self._data, self._compute = self._compute(), None
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._loaded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._loaded()) == dict(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyMapping({self._loaded()!r})"


@dataclass(frozen=True)
class KernelOrderEvent(OrderEvent):
    """An `OrderEvent` that also carries the order's whole status history so far."""

    history: tuple[tuple[int, str | None, str, str], ...] = ()  # (ts, from, to, reason)

    @classmethod
    def for_transition(cls, order: Order, index: int) -> KernelOrderEvent:
        """The event of `order.history[index]`, with the history up to it."""
        step = order.history[index]
        return cls(
            ts_ms=step.ts_ms,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side.value,
            order_type=order.type.value,
            status=step.target.value,
            previous_status=None if step.source is None else step.source.value,
            reason=step.reason,
            quantity=order.quantity,
            filled_quantity=order.filled_quantity,
            limit_price=order.limit_price,
            tag=order.tag,
            history=tuple(
                (t.ts_ms, None if t.source is None else t.source.value, t.target.value, t.reason)
                for t in order.history[: index + 1]
            ),
        )


@dataclass(frozen=True)
class TrailingEvent(EngineEvent):
    """A kernel-side trailing order was created, fired, expired or cancelled."""

    symbol: str
    side: str
    status: str
    purpose: str
    quantity: Decimal
    trail: float
    best_price: float | None
    trigger_price: float | None


@dataclass(frozen=True)
class EquityEvent(EngineEvent):
    """The account marked at a candle close."""

    equity: Decimal
    cash: Decimal
    exposure: Decimal
    realized_pnl: Decimal
    fees: Decimal
    drawdown: float
    state: str


@dataclass(frozen=True)
class OutcomeBands:
    """Return thresholds (net, on the entry value) of the outcome categories."""

    big_win: float = 0.10
    win: float = 0.01
    loss: float = -0.01
    big_loss: float = -0.05

    def __post_init__(self) -> None:
        if not self.big_loss < self.loss <= 0.0 <= self.win < self.big_win:
            raise ValueError("outcome bands need big_loss < loss <= 0 <= win < big_win")

    def classify(self, net_return: float) -> str:
        if net_return >= self.big_win:
            return "big_win"
        if net_return >= self.win:
            return "win"
        if net_return > self.loss:
            return "breakeven"
        if net_return > self.big_loss:
            return "loss"
        return "big_loss"


@dataclass(frozen=True)
class TradeClosedEvent(EngineEvent):
    """One round trip with why it was entered and how it turned out."""

    symbol: str
    direction: str
    opened_ms: int
    closed_ms: int
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    realized_pnl: Decimal  # gross
    fees: Decimal
    net_pnl: Decimal
    net_return: float  # net P&L over the entry value
    hold_ms: int
    max_adverse_excursion: float  # worst price move against the trade, fraction of entry
    max_favourable_excursion: float  # best price move for the trade, fraction of entry
    best_exit_price: float
    best_exit_ms: int
    efficiency: float | None  # the exit's price move over the best possible one
    outcome: str
    exit_reason: str
    entry_context: Mapping[str, Any] = field(default_factory=dict)
