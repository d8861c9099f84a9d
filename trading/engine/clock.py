"""Where the engine's time comes from.

Guarantees: every clock answers `now_ms()` in integer milliseconds since the
epoch, UTC. A `SimulatedClock` never goes backwards (moving it back raises
`ClockError`), so anything stamped from it is ordered. The engine never reads
the system time directly: replay, paper and live differ only by the clock they
are given.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

DAY_MS = 86_400_000


class ClockError(ValueError):
    """A simulated clock was asked to move backwards."""


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current time in integer ms UTC."""

    def now_ms(self) -> int: ...


class SystemClock:
    """The machine's wall clock (UTC epoch milliseconds)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class SimulatedClock:
    """A clock moved explicitly by a replay feed or a test; monotonic non-decreasing."""

    def __init__(self, start_ms: int = 0) -> None:
        if start_ms < 0:
            raise ClockError(f"start time must be >= 0 ms, got {start_ms}")
        self._now_ms = int(start_ms)

    def now_ms(self) -> int:
        return self._now_ms

    def advance_to(self, ts_ms: int) -> None:
        """Set the time to `ts_ms`; staying at the same instant is allowed, going back is not."""
        if ts_ms < self._now_ms:
            raise ClockError(f"simulated clock cannot go back from {self._now_ms} to {ts_ms}")
        self._now_ms = int(ts_ms)

    def advance_by(self, delta_ms: int) -> None:
        """Move forward by `delta_ms` (>= 0)."""
        if delta_ms < 0:
            raise ClockError(f"cannot advance by a negative duration ({delta_ms} ms)")
        self._now_ms += int(delta_ms)


def utc_day(ts_ms: int) -> int:
    """The UTC calendar day of `ts_ms`, as days since the epoch (daily limits reset on it)."""
    return ts_ms // DAY_MS
