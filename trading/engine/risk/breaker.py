"""Circuit breakers: named trips that pause or halt a session, recorded as events.

Guarantees:
- Every trip, automatic resumption and operator resume is appended to
  `events` as a `BreakerEvent` with its reason, value and limit; nothing is
  forgotten, the journal can replay them.
- The session state is HALTED while any HALT trip is active, else PAUSED while
  any PAUSE trip is active, else ACTIVE. A trip with `resume_at_ms` (the daily
  limits: next UTC midnight) lifts itself at that time; others stay until
  `resume`.
- Tripping a breaker that is already tripped changes nothing and records
  nothing (a breaker checked before every order trips once, not per order).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from trading.engine.events import BreakerEvent


class BreakerAction(StrEnum):
    PAUSE = "PAUSE"  # no new risk; exits still run
    HALT = "HALT"  # emergency stop: flattened, nothing new until an operator resumes


class SessionState(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    HALTED = "HALTED"


@dataclass(frozen=True)
class Trip:
    breaker: str
    action: BreakerAction
    reason: str
    ts_ms: int
    value: float | None = None
    limit: float | None = None
    resume_at_ms: int | None = None


class CircuitBreaker:
    def __init__(self, active: Iterable[Trip] = ()) -> None:
        """`active`: trips restored from a checkpoint (their events were recorded then)."""
        self._active: dict[str, Trip] = {trip.breaker: trip for trip in active}
        self.events: list[BreakerEvent] = []

    def state(self, ts_ms: int) -> SessionState:
        self._lift_expired(ts_ms)
        actions = {trip.action for trip in self._active.values()}
        if BreakerAction.HALT in actions:
            return SessionState.HALTED
        return SessionState.PAUSED if actions else SessionState.ACTIVE

    def active_trips(self, ts_ms: int) -> list[Trip]:
        self._lift_expired(ts_ms)
        return list(self._active.values())

    def is_tripped(self, breaker: str, ts_ms: int) -> bool:
        self._lift_expired(ts_ms)
        return breaker in self._active

    def trip(self, trip: Trip) -> BreakerEvent | None:
        """Activate `trip`; the event recorded, or None if that breaker was already tripped."""
        if self.is_tripped(trip.breaker, trip.ts_ms):
            return None
        self._active[trip.breaker] = trip
        event = BreakerEvent(
            ts_ms=trip.ts_ms,
            breaker=trip.breaker,
            action=trip.action.value,
            reason=trip.reason,
            value=trip.value,
            limit=trip.limit,
            resume_at_ms=trip.resume_at_ms,
        )
        self.events.append(event)
        return event

    def resume(self, ts_ms: int, reason: str = "resumed by operator") -> list[BreakerEvent]:
        """Lift every active trip (an operator decision); one RESUME event per trip."""
        lifted = [self._resume_event(trip, ts_ms, reason) for trip in self._active.values()]
        self._active.clear()
        self.events.extend(lifted)
        return lifted

    def _lift_expired(self, ts_ms: int) -> None:
        for name, trip in list(self._active.items()):
            if trip.resume_at_ms is not None and ts_ms >= trip.resume_at_ms:
                del self._active[name]
                self.events.append(self._resume_event(trip, trip.resume_at_ms, "limit period over"))

    @staticmethod
    def _resume_event(trip: Trip, ts_ms: int, reason: str) -> BreakerEvent:
        return BreakerEvent(ts_ms=ts_ms, breaker=trip.breaker, action="RESUME", reason=reason)
