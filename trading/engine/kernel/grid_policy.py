"""Grid trading in the kernel: what a session's grid is configured with, and what it tells.

Design (how a grid runs next to the agents):
- Ownership. A spot account holds one balance per asset and the portfolio
  books one average-cost position per symbol, so two strategies cannot share
  a symbol without every exit, stop and closed-trade record having to guess
  whose coins it sells. A grid therefore *owns* the symbols it trades
  (`GridPolicy.symbols`, default all of the session's): on them every fill
  is booked to the grid's inventory and the agents' decided entries and exits
  become skips ("the grid trades X"). The agents still vote there and
  modulate the grid (below). On the session's other symbols the agents trade
  as usual: a companion grid, with its own budget.
- Budget. At each (re)build the grid's budget is `capital_fraction` x equity;
  each buy level is sized `budget / levels_per_side` at the center price
  (rounded down to the lot). The inventory at cost plus the working buys never
  exceeds `max_inventory` x budget (carried lots included). The part of that
  cap not yet spent is withheld from the agents' entry sizing.
- Levels. Spacing self-tunes: `self_tuned_spacing` over the last
  `lookback_bars` closed bars (30% of the average swing, clamped to
  0.5%-5%). Levels are geometric around the price, `levels_per_side` a side.
  Only buy levels within `active_levels` steps below the price hold resting
  limit buys; sells exist only against inventory (long-only spot): a buy
  filled at level i becomes a lot whose resting sell sits one level up
  (`Grid.on_fill`), and when that sell fills the buy one level down is armed
  again (the classic round trip). A lot keeps its sell price across rebuilds.
- Moving with the price. When the price rises (favourable for a long grid),
  buys that fall out of the activation window are cancelled and replaced at
  the idle levels the price brought within it: orders are improved by
  cancel/replace closer to the price, never at a level whose sell has just
  filled (it stays FILLED until the level below it buys or the level above
  it sells, so the grid never buys back at its own sale price). When a close leaves the grid's range
  it is rebuilt around the price (a new generation); every
  `retune_every_bars` bars the spacing is re-measured and the grid rebuilt if
  it drifted more than `retune_tolerance`.
- Time and partial fills. Every grid order expires after `order_ttl_bars`
  bars and is then placed again (a fresh risk check). A buy still partially
  filled at a candle close has its remainder cancelled: the filled part
  becomes a lot with its sell. A partially filled sell keeps working; if it
  expires the rest of the lot gets a new sell.
- Risk. Every grid buy passes the risk guard (`RiskGuard.check`: breakers,
  position size, exposure, daily trade count, ...) just before it is created,
  so each buy placed counts as one of the day's new-risk orders (size
  `max_daily_trades` for the grid); sells only reduce the position and always
  pass. While the session is paused (a breaker, bad data), winding down or
  halted, no buy is placed and working buys are cancelled at the next candle
  close (at once when a grid buy is what tripped the breaker); sells keep
  working except when halted (the emergency stop cancels them and flattens).
- Regime veto. When `veto_agent` (default the regime agent) votes TRAIL_SELL
  (BEAR) with confidence >= `veto_confidence`, the grid cancels its buys and
  adds none until that vote lifts; its sells keep working.
- Stop. When a price falls `stop_below_fraction` below the lowest price the
  grid holds inventory at, it cancels its orders, sells all its inventory at
  market and rests for `retune_every_bars` bars, then rebuilds around the price.
- Ids. Client order ids are `client_order_id(session, symbol, "grid",
  generation, level, side, n)`, n counting placements of that key, all of it
  checkpointed: a restored or replayed session re-sends the same ids, so the
  exchange never sees an order twice.
- Records. Each grid sell order that filled is one closed trade (the lots it
  sold, fees of both sides included): a `TradeClosedEvent` with exit reason
  "grid" (a paired sell), "grid_stop", "end" or "emergency_stop", counted by
  the loss-streak breaker but not by the agents' track record (Kelly sizing
  and agent accuracy learn from the agents' own trades only). A `GridEvent`
  (levels, spacing, active levels, working orders, inventory, why buys are
  blocked) is published whenever the grid changes, for the dashboard to draw.

This module holds the frozen configuration, the event and the veto rule;
`grid_book` the grid's state and accounting, `grid_trader` the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.engine.agents.base import AgentAction
from trading.engine.events import EngineEvent
from trading.engine.orchestrator import Vote


@dataclass(frozen=True)
class GridPolicy:
    """A session's grid; `symbols=None` grids every symbol of the session."""

    levels_per_side: int = 5
    capital_fraction: float = 0.5
    retune_every_bars: int = 24
    max_inventory: float = 1.0  # inventory at cost + working buys, as a fraction of the budget
    stop_below_fraction: float | None = 0.05  # below the lowest bought price; None: no stop
    symbols: tuple[str, ...] | None = None
    active_levels: int = 2  # buy levels with orders: those within this many steps below
    lookback_bars: int = 240
    swing_window: int = 5
    retune_tolerance: float = 0.25
    order_ttl_bars: int = 24
    veto_agent: str = "regime"
    veto_confidence: float = 0.6

    def __post_init__(self) -> None:
        if self.levels_per_side < 1 or self.active_levels < 1:
            raise ValueError("a grid needs levels_per_side >= 1 and active_levels >= 1")
        if not 0.0 < self.capital_fraction <= 1.0:
            raise ValueError("capital_fraction must be in (0, 1]")
        if not 0.0 < self.max_inventory <= 1.0:
            raise ValueError("max_inventory must be a fraction of the budget in (0, 1]")
        stop = self.stop_below_fraction
        if stop is not None and not 0.0 < stop < 1.0:
            raise ValueError("stop_below_fraction must be in (0, 1) or None")
        if self.retune_every_bars < 1 or self.order_ttl_bars < 1:
            raise ValueError("retune_every_bars and order_ttl_bars must be >= 1")
        if self.lookback_bars < 4 * self.swing_window or self.swing_window < 1:
            raise ValueError("lookback_bars must cover at least 4 swing windows")
        if not 0.0 <= self.veto_confidence <= 1.0 or self.retune_tolerance <= 0:
            raise ValueError("veto_confidence must be in [0, 1] and retune_tolerance > 0")
        if self.symbols is not None:
            object.__setattr__(self, "symbols", tuple(self.symbols))

    def owns(self, symbol: str, session_symbols: tuple[str, ...]) -> bool:
        chosen = session_symbols if self.symbols is None else self.symbols
        return symbol in chosen

    def activation_window(self, spacing: float) -> float:
        """The distance below the price within which buy levels hold orders."""
        return float((1.0 + spacing) ** (self.active_levels + 0.5) - 1.0)

    def veto(self, vote: Vote) -> str:
        """Why the agents forbid new grid buys now ("" when they do not)."""
        signal = vote.signal_of(self.veto_agent)
        if signal is None or signal.action is not AgentAction.TRAIL_SELL:
            return ""
        if signal.confidence < self.veto_confidence:
            return ""
        return (
            f"{self.veto_agent} votes {signal.action.value} with confidence "
            f"{signal.confidence:.2f} >= {self.veto_confidence:.2f}: no new grid buys"
        )


@dataclass(frozen=True)
class GridEvent(EngineEvent):
    """A grid's levels and orders, published whenever they change (the dashboard draws it).

    `levels` are (index, price, side, state); `active` the indices of ACTIVE
    levels; `working` the grid's working orders as (client order id, side,
    limit price or None for market, remaining quantity); `buys_blocked` says
    why no buy is being added ("" when buys are allowed).
    """

    symbol: str
    generation: int
    reason: str  # built, recentered, retuned, stopped, wound_down, update
    center: Decimal
    spacing: float
    levels: tuple[tuple[int, Decimal, str, str], ...]
    active: tuple[int, ...]
    working: tuple[tuple[str, str, Decimal | None, Decimal], ...]
    inventory: Decimal
    budget: Decimal
    buys_blocked: str = ""
