"""A thread-safe cache bounded by the bytes of what it holds, least recently used dropped first.

The process-wide caches of the GA (`signal_store.BlockSignalStore`,
`seeds.indicator_memo.IndicatorMemo`) keep arrays between batches; each entry is
counted at the size its owner gives, and entries are dropped, oldest use first,
until the total fits `capacity_bytes`. An entry larger than the whole capacity is
not kept; putting a key already held keeps the first value.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class ByteBoundedLru(Generic[V]):
    """Values by key, at most `capacity_bytes` of them (see the module docstring)."""

    def __init__(self, capacity_bytes: int):
        self.capacity_bytes = capacity_bytes
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value kept under `key` (now the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: V, size: int) -> None:
        with self._lock:
            if key in self._entries or size > self.capacity_bytes:
                return
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.capacity_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)
