"""A token bucket for order endpoints, on top of ccxt's own request spacing.

ccxt's `enableRateLimit` spaces every request by the exchange's weight-based
`rateLimit`; exchanges also cap how many orders an account may place or cancel
per window (Binance: 100 orders per 10 s), which request spacing alone does not
respect when a grid places many orders at once. The bucket does.

Guarantees: `acquire()` returns at once while tokens remain, else sleeps
(through the injected `sleep`) exactly until the next token has refilled; over
any window of length t, at most `capacity + rate_per_s * t` acquisitions
succeed. Time is read from the injected monotonic `clock`, so tests run on
fake time (a fake `sleep` must advance the fake `clock`). Not thread-safe: one bucket per executor, used by one thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        capacity: float = 10.0,
        rate_per_s: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if capacity < 1 or rate_per_s <= 0:
            raise ValueError("a token bucket needs capacity >= 1 and a positive refill rate")
        self.capacity = float(capacity)
        self.rate_per_s = float(rate_per_s)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(capacity)
        self._updated = clock()
        self.waited_s = 0.0  # total time spent waiting, for execution-quality metrics

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def acquire(self, cost: float = 1.0) -> float:
        """Take `cost` tokens, waiting for them if needed; returns the seconds waited."""
        if cost > self.capacity:
            raise ValueError(f"cost {cost} exceeds the bucket capacity {self.capacity}")
        waited = 0.0
        self._refill()
        while self._tokens < cost - 1e-9:  # tolerance: float refill arithmetic
            wait = (cost - self._tokens) / self.rate_per_s
            self._sleep(wait)
            waited += wait
            self._refill()
        self._tokens = max(0.0, self._tokens - cost)
        self.waited_s += waited
        return waited

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate_per_s)
        self._updated = now
