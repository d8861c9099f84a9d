"""Orders whose submission finally failed, kept for recovery.

An order that could not be placed within the retry budget (the exchange was
unreachable, or refused the account) is in an unknown state: it may or may not
exist at the exchange. It is stored here, with why and when it failed, so a
recovery pass (`CcxtExecutor.recover_failed`) can look it up by its client id
later and either adopt it or send it again; it is never silently dropped.

Guarantees of any `FailedOrderStore`: at most one record per client order id
(storing again replaces the record, keeping the attempt count growing);
`all()` lists records by their last failure, oldest first; `remove` of an unknown id is a no-op.
The Django adapter persists records in the database; `InMemoryFailedOrderStore`
serves the engine and its tests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from trading.engine.orders.model import Order


@dataclass(frozen=True)
class FailedOrder:
    order: Order  # as it was when the last attempt failed (normally PENDING)
    reason: str  # redacted description of the last failure
    error_type: str  # "temporary" (retry later) or "operational" (needs an operator)
    attempts: int  # transport attempts made so far, over all recovery passes
    failed_ms: int

    @property
    def client_order_id(self) -> str:
        return self.order.client_order_id


@runtime_checkable
class FailedOrderStore(Protocol):
    def add(self, failure: FailedOrder) -> None: ...

    def get(self, client_order_id: str) -> FailedOrder | None: ...

    def remove(self, client_order_id: str) -> None: ...

    def all(self) -> list[FailedOrder]: ...


class InMemoryFailedOrderStore:
    def __init__(self) -> None:
        self._records: dict[str, FailedOrder] = {}
        self._lock = threading.Lock()

    def add(self, failure: FailedOrder) -> None:
        with self._lock:
            previous = self._records.pop(failure.client_order_id, None)
            if previous is not None:
                failure = replace(failure, attempts=previous.attempts + failure.attempts)
            self._records[failure.client_order_id] = failure

    def get(self, client_order_id: str) -> FailedOrder | None:
        with self._lock:
            return self._records.get(client_order_id)

    def remove(self, client_order_id: str) -> None:
        with self._lock:
            self._records.pop(client_order_id, None)

    def all(self) -> list[FailedOrder]:
        with self._lock:
            return list(self._records.values())

    def __len__(self) -> int:
        return len(self._records)
