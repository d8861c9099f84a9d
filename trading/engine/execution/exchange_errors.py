"""What the engine does about each kind of ccxt failure.

Guarantees:
- `is_transient(exc)` is True exactly for failures that say nothing about the
  request itself: ccxt `NetworkError` and its subclasses (RequestTimeout,
  RateLimitExceeded, DDoSProtection, ExchangeNotAvailable, OnMaintenance,
  InvalidNonce) and `BadResponse` (a garbled answer, e.g. a proxy's HTML page).
  Only these are retried, and a retried order is always looked up by its client
  id first (see `ccxt_executor`), so retrying one can never double it.
- `is_rejection(exc)` is True for the exchange refusing this order on its
  merits (InsufficientFunds, InvalidOrder and its subclasses, except a
  duplicate client id and "order not found"): the order becomes REJECTED and
  is never retried.
- `is_duplicate(exc)` recognises the exchange refusing a client order id it
  already holds (Binance -2010 "Duplicate order sent.", ccxt DuplicateOrderId):
  the order went through earlier and must be looked up, not re-sent.
- Anything else (AuthenticationError, PermissionDenied, AccountSuspended,
  other exchange errors) is operational: the session must stop and alert.

The exceptions raised by the ccxt adapters map onto the platform's error
taxonomy without importing it: `TemporaryExchangeError` is a TemporaryError
(retry later), `OperationalExchangeError` an OperationalError (stop the session).
"""

from __future__ import annotations

import ccxt

from trading.engine.execution.protocol import ExecutionError

TRANSIENT: tuple[type[BaseException], ...] = (ccxt.NetworkError, ccxt.BadResponse)
REJECTIONS: tuple[type[BaseException], ...] = (ccxt.InsufficientFunds, ccxt.InvalidOrder)
_DUPLICATE_MESSAGES = ("duplicate order", "duplicate clientorderid", "client order id is duplicated")


class TemporaryExchangeError(ExecutionError):
    """The exchange could not be reached (or kept failing) within the retry budget."""


class OperationalExchangeError(ExecutionError):
    """The exchange refused the account or the request; continuing would be unsafe."""


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)


def is_duplicate(exc: BaseException) -> bool:
    if isinstance(exc, ccxt.DuplicateOrderId):
        return True
    text = str(exc).lower()
    return isinstance(exc, ccxt.InvalidOrder) and any(m in text for m in _DUPLICATE_MESSAGES)


def is_rejection(exc: BaseException) -> bool:
    if isinstance(exc, ccxt.OrderNotFound) or is_duplicate(exc):
        return False
    return isinstance(exc, REJECTIONS)


def describe(exc: BaseException) -> str:
    """`Type: message`, shortened; callers pass it through the secret redactor."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"
