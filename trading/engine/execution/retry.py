"""Retrying transient exchange failures: exponential backoff with jitter.

Guarantees:
- After the n-th consecutive failure the wait is
  `min(max_delay_s, base_delay_s * 2**(n-1))`, spread by +/- `jitter`/2 of
  itself (10% jitter by default, so clients restarting together do not retry
  in lockstep), and never shorter than a Retry-After the exchange sent.
- At most `attempts` tries in all; then `TemporaryExchangeError`, chained to
  the last failure. A Retry-After longer than `max_retry_after_s` gives up at
  once (the caller retries later instead of blocking a worker).
- Only `exchange_errors.is_transient` failures are retried; any other
  exception propagates unchanged on its first occurrence.
- Time passes only through the injected `sleep`, so tests run on fake time.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from trading.engine.execution.exchange_errors import (
    TemporaryExchangeError,
    describe,
    is_transient,
)
from trading.engine.execution.redaction import REDACTOR, SecretRedactor

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # the first try + 5 retries
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    jitter: float = 0.1
    max_retry_after_s: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("need 0 <= base_delay_s <= max_delay_s")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be in [0, 1]")

    def delay(self, failures: int, retry_after: float | None = None, *, unit: float = 0.5) -> float:
        """Seconds to wait after the `failures`-th failure; `unit` in [0, 1) is the jitter draw."""
        full = min(self.max_delay_s, self.base_delay_s * 2 ** (failures - 1))
        wait = full * (1 + self.jitter * (unit - 0.5))
        return max(wait, retry_after or 0.0)


def retry_after_seconds(exchange: Any) -> float | None:
    """The Retry-After header of the exchange's last response, if it sent one."""
    headers = getattr(exchange, "last_response_headers", None) or {}
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class Retrier:
    """Runs exchange calls under a `RetryPolicy`."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        retry_after: Callable[[], float | None] = lambda: None,
        redactor: SecretRedactor = REDACTOR,
    ) -> None:
        self.policy = policy
        self.sleep = sleep
        self.rng = rng
        self.retry_after = retry_after
        self.redactor = redactor

    def call(self, what: str, operation: Callable[[], T]) -> T:
        """`operation()`, retried on transient failures."""
        failures = 0
        while True:
            try:
                return operation()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                failures += 1
                self.backoff(what, failures, exc)

    def backoff(self, what: str, failures: int, exc: BaseException) -> None:
        """Wait after the `failures`-th transient failure, or give up with TemporaryExchangeError."""
        self.redactor.scrub(exc)
        reason = self.redactor.redact(describe(exc))
        if failures >= self.policy.attempts:
            raise TemporaryExchangeError(
                f"{what}: gave up after {failures} attempts: {reason}"
            ) from exc
        retry_after = self.retry_after()
        if retry_after is not None and retry_after > self.policy.max_retry_after_s:
            raise TemporaryExchangeError(
                f"{what}: the exchange asked to wait {retry_after:.0f}s: {reason}"
            ) from exc
        wait = self.policy.delay(failures, retry_after, unit=self.rng())
        log.warning(
            "%s failed (attempt %d/%d): %s; retrying in %.2fs",
            what, failures, self.policy.attempts, reason, wait,
        )
        self.sleep(wait)
