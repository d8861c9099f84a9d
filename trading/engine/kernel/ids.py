"""Client order ids derived from (session, symbol, event time, purpose, sequence).

Guarantees: `issue` is deterministic: a kernel restored from a checkpoint and
replaying the same events issues the same ids in the same order, so an
executor that already saw an order returns it instead of placing it twice.
The sequence numbers only need remembering for the current event time (time
never goes back in the kernel), which is all `snapshot()` carries.
"""

from __future__ import annotations

from typing import Any

from trading.engine.orders.ids import client_order_id


class OrderIdIssuer:
    def __init__(self, session_id: str, prefix: str = "org") -> None:
        client_order_id(session_id, prefix=prefix)  # validates both
        self.session_id = session_id
        self.prefix = prefix
        self._ts: int | None = None
        self._issued: dict[tuple[str, str], int] = {}

    def issue(self, symbol: str, ts_ms: int, purpose: str) -> str:
        if self._ts != ts_ms:
            if self._ts is not None and ts_ms < self._ts:
                raise ValueError(f"order ids cannot go back in time ({ts_ms} < {self._ts})")
            self._ts, self._issued = ts_ms, {}
        key = (symbol, purpose)
        sequence = self._issued.get(key, 0)
        self._issued[key] = sequence + 1
        return client_order_id(
            self.session_id, symbol, ts_ms, purpose, sequence, prefix=self.prefix
        )

    def snapshot(self) -> dict[str, Any]:
        issued = [[symbol, purpose, count] for (symbol, purpose), count in self._issued.items()]
        return {"ts_ms": self._ts, "issued": issued}

    def restore(self, state: dict[str, Any]) -> None:
        self._ts = state["ts_ms"]
        self._issued = {(s, p): int(c) for s, p, c in state["issued"]}
