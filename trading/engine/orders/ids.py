"""Client order ids that make retries safe.

Guarantees: `client_order_id(namespace, *parts)` is a pure function: the same
inputs always give the same id, so an order re-created after a crash (same
session, same candle, same purpose) carries the id the exchange has already
seen and cannot be placed twice. Ids are at most 36 characters from
[A-Za-z0-9_-], the strictest common exchange format (Binance). Distinct inputs
collide with probability ~2^-96.

`ClientOrderIds` adds a per-key counter so that two orders for the same purpose
at the same instant still get distinct ids, deterministically in call order.
"""

from __future__ import annotations

import hashlib
import re

_PREFIX_RE = re.compile(r"^[A-Za-z0-9]{1,10}$")
MAX_LENGTH = 36


def client_order_id(namespace: str, *parts: object, prefix: str = "org") -> str:
    """A deterministic id for the order identified by (namespace, parts)."""
    if not _PREFIX_RE.match(prefix):
        raise ValueError(f"prefix must be 1-10 letters or digits, got {prefix!r}")
    if not namespace:
        raise ValueError("namespace (e.g. the session id) must not be empty")
    key = "\x1f".join([namespace, *(str(p) for p in parts)])
    digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
    return f"{prefix}-{digest}"


class ClientOrderIds:
    """Issues ids for one session; the n-th order with the same key gets suffix n."""

    def __init__(self, namespace: str, *, prefix: str = "org") -> None:
        client_order_id(namespace, prefix=prefix)  # validates both
        self.namespace = namespace
        self.prefix = prefix
        self._issued: dict[tuple[str, ...], int] = {}

    def next(self, *parts: object) -> str:
        """The id for the next order keyed by `parts` (e.g. symbol, bar time, purpose)."""
        key = tuple(str(p) for p in parts)
        sequence = self._issued.get(key, 0)
        self._issued[key] = sequence + 1
        return client_order_id(self.namespace, *key, sequence, prefix=self.prefix)
