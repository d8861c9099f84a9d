"""Bad data never trades: validate every price and candle before the engine sees it.

Guarantees:
- A tick is rejected when its price is not a positive finite number, its time
  is before the last accepted tick (out of order), it is older than `max_age_ms`
  against the clock (stale), or it jumped from the last accepted price of that
  symbol by more than `max_jump` (implausible on one tick, e.g. a decimal shift).
  Jumps are symmetric in log terms: max_jump=1.0 refuses a price more than
  doubling or halving; a live feed polled every few seconds can set it much
  tighter, a replay of hourly bars (whose intra-bar ticks are 20 minutes apart
  and whose real extremes reached +68% in one hour) should not.
- A candle is rejected when any OHLCV value is NaN/inf, a price is zero or
  negative, the volume is negative, OHLC is inconsistent (high below open,
  close or low; low above open or close), its open time is off the timeframe
  grid, it does not come strictly after the last accepted candle, its close is
  older than `max_age_ms`, it gaps more than `max_gap` from the previous close,
  or its close moved more than `max_jump` from the previous close.
- Rejected inputs never update the reference state, so one bad print cannot
  make the following good ones look like jumps.
- Consecutive rejections are counted per symbol (any accepted input resets the
  count); once the count reaches `pause_after`, verdicts say `pause`: the caller
  pauses the session until the feed is good again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from trading.engine.clock import Clock
from trading.engine.feeds import Candle, Tick
from trading.engine.market import timeframe_ms


@dataclass(frozen=True)
class FeedGuardConfig:
    max_jump: float = 1.0  # ratio beyond 1 + max_jump (or below its inverse) is implausible
    max_gap: float = 0.1  # the same bound for a candle's open vs the previous close
    max_age_ms: int | None = None  # None: no staleness check (replays)
    pause_after: int = 5  # consecutive rejections before asking for a pause

    def __post_init__(self) -> None:
        if self.max_jump <= 0 or self.max_gap <= 0:
            raise ValueError("max_jump and max_gap must be positive fractions")
        if self.pause_after < 1:
            raise ValueError("pause_after must be >= 1")


@dataclass(frozen=True)
class DataVerdict:
    accepted: bool
    reason: str = ""
    consecutive_rejects: int = 0
    pause: bool = False


@dataclass
class _SymbolState:
    last_tick_ms: int | None = None
    last_price: float | None = None
    last_candle_open_ms: int | None = None
    last_close: float | None = None
    consecutive_rejects: int = 0


class FeedGuard:
    """Stateful validator for one session's feeds (any number of symbols)."""

    def __init__(self, clock: Clock, config: FeedGuardConfig | None = None) -> None:
        self.clock = clock
        self.config = config or FeedGuardConfig()
        self._symbols: dict[str, _SymbolState] = {}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per-symbol reference state (JSON-ready), so a resumed session checks as before."""
        return {symbol: asdict(state) for symbol, state in self._symbols.items()}

    def restore(self, snapshot: dict[str, dict[str, Any]]) -> None:
        self._symbols = {symbol: _SymbolState(**state) for symbol, state in snapshot.items()}

    def consecutive_rejects(self, symbol: str) -> int:
        return self._state(symbol).consecutive_rejects

    def check_tick(self, tick: Tick) -> DataVerdict:
        state = self._state(tick.symbol)
        reason = self._tick_problem(tick, state)
        if reason:
            return self._rejected(state, reason)
        state.last_tick_ms = tick.ts_ms
        state.last_price = tick.price
        return self._accepted(state)

    def check_candle(self, candle: Candle) -> DataVerdict:
        state = self._state(candle.symbol)
        reason = self._candle_shape_problem(candle) or self._candle_sequence_problem(candle, state)
        if reason:
            return self._rejected(state, reason)
        state.last_candle_open_ms = candle.open_ms
        state.last_close = candle.close
        state.last_price = candle.close
        state.last_tick_ms = max(state.last_tick_ms or candle.ts_ms, candle.ts_ms)
        return self._accepted(state)

    # -- rules -------------------------------------------------------------------------------

    def _tick_problem(self, tick: Tick, state: _SymbolState) -> str:
        if not _positive(tick.price):
            return f"price {tick.price!r} is not a positive finite number"
        if math.isnan(tick.volume) or tick.volume < 0:
            return f"volume {tick.volume!r} is negative or NaN"
        if state.last_tick_ms is not None and tick.ts_ms < state.last_tick_ms:
            return f"timestamp {tick.ts_ms} goes back before {state.last_tick_ms}"
        stale = self._staleness(tick.ts_ms)
        if stale:
            return stale
        return self._jump(tick.price, state.last_price, self.config.max_jump, "price")

    def _candle_shape_problem(self, c: Candle) -> str:
        values = {"open": c.open, "high": c.high, "low": c.low, "close": c.close}
        for name, value in values.items():
            if not _positive(value):
                return f"{name} {value!r} is not a positive finite number"
        if not math.isfinite(c.volume) or c.volume < 0:
            return f"volume {c.volume!r} is negative or not finite"
        if c.high < max(c.open, c.close, c.low) or c.low > min(c.open, c.close):
            return f"inconsistent OHLC o={c.open} h={c.high} l={c.low} c={c.close}"
        try:
            span = timeframe_ms(c.timeframe)
        except ValueError as exc:
            return str(exc)
        if c.open_ms % span:
            return f"open time {c.open_ms} is not on the {c.timeframe} grid"
        return ""

    def _candle_sequence_problem(self, c: Candle, state: _SymbolState) -> str:
        if state.last_candle_open_ms is not None and c.open_ms <= state.last_candle_open_ms:
            return f"candle {c.open_ms} does not come after {state.last_candle_open_ms}"
        stale = self._staleness(c.ts_ms)
        if stale:
            return stale
        previous = state.last_close
        return self._jump(c.open, previous, self.config.max_gap, "gap") or self._jump(
            c.close, previous, self.config.max_jump, "close"
        )

    def _staleness(self, ts_ms: int) -> str:
        limit = self.config.max_age_ms
        if limit is None:
            return ""
        age = self.clock.now_ms() - ts_ms
        return f"stale: {age} ms old (limit {limit} ms)" if age > limit else ""

    @staticmethod
    def _jump(price: float, reference: float | None, limit: float, what: str) -> str:
        if reference is None:
            return ""
        ratio = price / reference
        if ratio > 1.0 + limit or ratio < 1.0 / (1.0 + limit):
            return f"implausible {what} move of {ratio - 1.0:+.1%} from {reference} to {price}"
        return ""

    # -- bookkeeping -------------------------------------------------------------------------

    def _state(self, symbol: str) -> _SymbolState:
        return self._symbols.setdefault(symbol, _SymbolState())

    def _rejected(self, state: _SymbolState, reason: str) -> DataVerdict:
        state.consecutive_rejects += 1
        count = state.consecutive_rejects
        return DataVerdict(False, reason, count, pause=count >= self.config.pause_after)

    @staticmethod
    def _accepted(state: _SymbolState) -> DataVerdict:
        state.consecutive_rejects = 0
        return DataVerdict(True)


def _positive(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0
