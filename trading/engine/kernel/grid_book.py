"""One symbol's grid state: its levels, inventory lots, working orders and sales in progress.

Guarantees:
- Inventory is kept as lots, one per filled buy order: quantity, entry value
  (sum of quantity x price) and buy fees, the price extremes seen since, and
  the price its sell rests at. A lot's sell takes from that lot only; any
  other sell on the symbol (a stop, the end of a replay, an emergency
  flatten) takes from the lots oldest first. Shares of a lot's entry value
  and fees are rounded to 1e-12 on a partial take and the last take gets
  exactly what is left, so the entry values and fees of all sales sum to
  those of all buys: the grid's round trips reconcile with the portfolio.
- A sale (one sell order) accumulates what it took until the order ends and
  then becomes one `ClosedTrade` and its `TradeClosedEvent`.
- `to_json` / `GridBook.from_json` round-trip everything (Decimals as
  strings), so a checkpointed grid resumes exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from trading.engine.kernel.records import OutcomeBands, TradeClosedEvent
from trading.engine.money import ZERO
from trading.engine.orders.grid import Grid, GridLevel, LevelState
from trading.engine.orders.model import Fill, OrderSide
from trading.engine.portfolio import ClosedTrade

SHARE_QUANTUM = Decimal("1e-12")
Json = dict[str, Any]


@dataclass(frozen=True)
class GridOrderRef:
    """What a working grid order is for: a level's buy, a lot's sell, or a market flatten."""

    kind: str  # "buy", "sell", "flatten"
    generation: int
    level: int | None = None
    lot_id: int | None = None
    reason: str = ""  # for a flatten: grid_stop, end


@dataclass
class GridLot:
    lot_id: int
    generation: int
    level: int
    target: Decimal  # its sell's limit price
    opened_ms: int
    quantity: Decimal = ZERO
    cost: Decimal = ZERO  # entry value of `quantity`
    fees: Decimal = ZERO  # buy fees of `quantity`
    low: float = math.inf
    high: float = -math.inf
    high_ms: int = 0
    buy_order: str | None = None  # the buy still filling it
    sell_order: str | None = None

    @property
    def entry(self) -> float:
        """The average price paid for what is held (0 when nothing is)."""
        return float(self.cost / self.quantity) if self.quantity else 0.0

    def observe(self, price: float, ts_ms: int) -> None:
        if price > self.high:
            self.high, self.high_ms = price, ts_ms
        self.low = min(self.low, price)

    def add(self, fill: Fill) -> None:
        self.quantity += fill.quantity
        self.cost += fill.quantity * fill.price
        self.fees += fill.fee
        self.observe(float(fill.price), fill.ts_ms)

    def take(self, quantity: Decimal) -> tuple[Decimal, Decimal]:
        """Remove `quantity`; returns its (entry value, buy fees)."""
        if quantity >= self.quantity:
            cost, fees = self.cost, self.fees
        else:
            cost = (self.cost * quantity / self.quantity).quantize(SHARE_QUANTUM)
            fees = (self.fees * quantity / self.quantity).quantize(SHARE_QUANTUM)
        taken = min(quantity, self.quantity)
        self.quantity -= taken
        self.cost -= cost
        self.fees -= fees
        return cost, fees


@dataclass
class Sale:
    """A grid sell order's round trip so far."""

    reason: str
    quantity: Decimal = ZERO
    entry_value: Decimal = ZERO
    exit_value: Decimal = ZERO
    fees: Decimal = ZERO
    opened_ms: int | None = None
    closed_ms: int = 0
    low: float = math.inf
    high: float = -math.inf
    high_ms: int = 0
    levels: list[int] = field(default_factory=list)

    def absorb(self, lot: GridLot, quantity: Decimal, fill: Fill) -> None:
        cost, fees = lot.take(quantity)
        self.quantity += quantity
        self.entry_value += cost
        self.exit_value += quantity * fill.price
        self.fees += fees
        self.opened_ms = lot.opened_ms if self.opened_ms is None else min(
            self.opened_ms, lot.opened_ms
        )
        self.closed_ms = fill.ts_ms
        self.low = min(self.low, lot.low)
        if lot.high > self.high:
            self.high, self.high_ms = lot.high, lot.high_ms
        if lot.level not in self.levels:
            self.levels.append(lot.level)

    def record(
        self, closed: ClosedTrade, context: dict[str, Any], bands: OutcomeBands
    ) -> TradeClosedEvent:
        """The closed-trade event of this sale (excursions from its lots' price extremes)."""
        entry = float(closed.average_entry)
        net_return = float(closed.return_fraction)
        mfe = max(0.0, self.high / entry - 1.0)
        price_return = float(closed.average_exit) / entry - 1.0
        return TradeClosedEvent(
            ts_ms=closed.closed_ms, symbol=closed.symbol, direction=closed.direction,
            opened_ms=closed.opened_ms, closed_ms=closed.closed_ms, quantity=closed.quantity,
            entry_price=closed.average_entry, exit_price=closed.average_exit,
            realized_pnl=closed.realized_pnl, fees=closed.fees, net_pnl=closed.net_pnl,
            net_return=net_return, hold_ms=closed.hold_ms,
            max_adverse_excursion=min(0.0, self.low / entry - 1.0),
            max_favourable_excursion=mfe, best_exit_price=self.high, best_exit_ms=self.high_ms,
            efficiency=price_return / mfe if mfe > 0 else None,
            outcome=bands.classify(net_return), exit_reason=self.reason, entry_context=context,
        )

    def closed_trade(self, symbol: str) -> ClosedTrade:
        assert self.opened_ms is not None and self.quantity > 0
        return ClosedTrade(
            symbol=symbol,
            direction="LONG",
            opened_ms=self.opened_ms,
            closed_ms=self.closed_ms,
            quantity=self.quantity,
            average_entry=self.entry_value / self.quantity,
            average_exit=self.exit_value / self.quantity,
            realized_pnl=self.exit_value - self.entry_value,
            fees=self.fees,
        )


class GridBook:
    """Everything one symbol's grid remembers between events."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.generation = 0
        self.grid: Grid | None = None
        self.budget = ZERO
        self.level_quantity = ZERO
        self.bars_since_build = 0
        self.rest_bars = 0  # bars left to rest after a stop
        self.stopped = False
        self.winding = False
        self.veto = ""
        self.blocked = ""  # why buys were last refused (shown in the grid event)
        self.lots: list[GridLot] = []
        self.orders: dict[str, GridOrderRef] = {}
        self.placements: dict[str, int] = {}
        self.next_lot = 0
        self.sales: dict[str, Sale] = {}
        self.reasons: list[str] = []  # what happened since the last grid event
        self.published = ""  # the last grid event's content, to publish changes only
        self.last_view: tuple[Any, ...] | None = None  # the same, unrendered (not checkpointed)

    # -- inventory ---------------------------------------------------------------------------

    @property
    def inventory(self) -> Decimal:
        return sum((lot.quantity for lot in self.lots), ZERO)

    @property
    def inventory_cost(self) -> Decimal:
        return sum((lot.cost for lot in self.lots), ZERO)

    def lot(self, lot_id: int) -> GridLot | None:
        return next((lot for lot in self.lots if lot.lot_id == lot_id), None)

    def lot_of_buy(self, client_order_id: str) -> GridLot | None:
        return next((lot for lot in self.lots if lot.buy_order == client_order_id), None)

    def new_lot(self, generation: int, level: int, target: Decimal, ts_ms: int) -> GridLot:
        lot = GridLot(self.next_lot, generation, level, target, ts_ms)
        self.next_lot += 1
        self.lots.append(lot)
        return lot

    def book_sell(self, fill: Fill, ref: GridOrderRef | None, reason: str) -> None:
        """Take a sell fill from its lot (a paired sell) or from all lots, oldest first."""
        sale = self.sales.setdefault(fill.client_order_id, Sale(reason))
        own = None if ref is None or ref.lot_id is None else self.lot(ref.lot_id)
        sources = [own] if own is not None else list(self.lots)
        remaining = fill.quantity
        for lot in sources:
            if remaining <= 0:
                break
            quantity = min(remaining, lot.quantity)
            if quantity > 0:
                sale.absorb(lot, quantity, fill)
                remaining -= quantity
        sale.fees += fill.fee
        self.lots = [lot for lot in self.lots if lot.quantity > 0 or lot.buy_order is not None]

    def key(self, generation: int, level: str, side: OrderSide) -> tuple[str, int]:
        """The placement key of (generation, level, side) and its next sequence number."""
        key = f"{generation}:{level}:{side.value}"
        return key, self.placements.get(key, 0)

    # -- checkpoints -------------------------------------------------------------------------

    def to_json(self) -> Json:
        return {
            "generation": self.generation,
            "grid": None if self.grid is None else grid_to_json(self.grid),
            "budget": str(self.budget),
            "level_quantity": str(self.level_quantity),
            "bars_since_build": self.bars_since_build,
            "rest_bars": self.rest_bars,
            "stopped": self.stopped,
            "winding": self.winding,
            "veto": self.veto,
            "blocked": self.blocked,
            "lots": [_lot_to_json(lot) for lot in self.lots],
            "orders": {cid: asdict(ref) for cid, ref in self.orders.items()},
            "placements": dict(self.placements),
            "next_lot": self.next_lot,
            "sales": {cid: _sale_to_json(sale) for cid, sale in self.sales.items()},
            "reasons": list(self.reasons),
            "published": self.published,
        }

    @classmethod
    def from_json(cls, symbol: str, data: Json) -> GridBook:
        book = cls(symbol)
        book.generation = data["generation"]
        book.grid = None if data["grid"] is None else grid_from_json(data["grid"])
        book.budget = Decimal(data["budget"])
        book.level_quantity = Decimal(data["level_quantity"])
        for name in ("bars_since_build", "rest_bars", "stopped", "winding", "veto", "blocked",
                     "next_lot", "published"):
            setattr(book, name, data[name])
        book.lots = [_lot_from_json(item) for item in data["lots"]]
        book.orders = {cid: GridOrderRef(**ref) for cid, ref in data["orders"].items()}
        book.placements = {k: int(v) for k, v in data["placements"].items()}
        book.sales = {cid: _sale_from_json(item) for cid, item in data["sales"].items()}
        book.reasons = list(data["reasons"])
        return book


_LOT_DECIMALS = ("target", "quantity", "cost", "fees")
_SALE_DECIMALS = ("quantity", "entry_value", "exit_value", "fees")
_EXTREMES = ("low", "high")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _lot_to_json(lot: GridLot) -> Json:
    data = asdict(lot)
    data.update({name: str(getattr(lot, name)) for name in _LOT_DECIMALS})
    data.update({name: _finite(getattr(lot, name)) for name in _EXTREMES})
    return data


def _lot_from_json(data: Json) -> GridLot:
    values = dict(data)
    values.update({name: Decimal(data[name]) for name in _LOT_DECIMALS})
    values["low"] = math.inf if data["low"] is None else data["low"]
    values["high"] = -math.inf if data["high"] is None else data["high"]
    return GridLot(**values)


def _sale_to_json(sale: Sale) -> Json:
    data = asdict(sale)
    data.update({name: str(getattr(sale, name)) for name in _SALE_DECIMALS})
    data.update({name: _finite(getattr(sale, name)) for name in _EXTREMES})
    return data


def _sale_from_json(data: Json) -> Sale:
    values = dict(data)
    values.update({name: Decimal(data[name]) for name in _SALE_DECIMALS})
    values["low"] = math.inf if data["low"] is None else data["low"]
    values["high"] = -math.inf if data["high"] is None else data["high"]
    values["levels"] = list(data["levels"])
    return Sale(**values)


def grid_to_json(grid: Grid) -> Json:
    return {
        "center": str(grid.center),
        "spacing": grid.spacing,
        "activation_window": grid.activation_window,
        "levels": [
            [lvl.index, str(lvl.price), lvl.side.value, lvl.state.value] for lvl in grid.levels
        ],
    }


def grid_from_json(data: Json) -> Grid:
    levels = tuple(
        GridLevel(index, Decimal(price), OrderSide(side), LevelState(state))
        for index, price, side, state in data["levels"]
    )
    return Grid(Decimal(data["center"]), data["spacing"], levels, data["activation_window"])
