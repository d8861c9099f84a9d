"""Coalesce bursts of updates per key: at most one send per key per interval, never a stale one.

`TickCoalescer.offer(key, payload)` is thread-safe and never blocks on the send.
For each key it guarantees:
- a lone update is sent at once (leading edge);
- while updates keep coming, at most one is sent per `interval` seconds;
- the last update offered is always sent (trailing edge, by the flusher thread
  at most `interval` after the previous send), so a dashboard never stays on a
  stale price;
- sends for one key happen in the order offered, on one thread (the flusher),
  so an older value can never overtake a newer one.

The flusher is a daemon thread started on first use. A coalescer belongs to
one process: after a fork, make a new one in the child (`organism.realtime`
does). A failing send is logged and dropped; the next update for that key is sent as
usual. No Django import: the caller injects `send`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

log = logging.getLogger(__name__)

Send = Callable[[Any, Mapping[str, Any]], None]


class TickCoalescer:
    def __init__(self, send: Send, *, interval: float, name: str = "tick-coalescer") -> None:
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        self.interval = float(interval)
        self.name = name
        self._send = send
        self._cond = threading.Condition()
        self._pending: dict[Hashable, Mapping[str, Any]] = {}
        self._due: dict[Hashable, float] = {}  # key -> monotonic time its pending update may go
        self._last_sent: dict[Hashable, float] = {}
        self._thread: threading.Thread | None = None
        self._closed = False

    def offer(self, key: Hashable, payload: Mapping[str, Any]) -> None:
        """Queue `payload` as the latest value for `key`; it replaces any unsent one."""
        with self._cond:
            if self._closed:
                raise RuntimeError(f"{self.name} is closed")
            self._pending[key] = payload
            if key not in self._due:
                earliest = self._last_sent.get(key, float("-inf")) + self.interval
                self._due[key] = max(time.monotonic(), earliest)
            self._ensure_flusher()
            self._cond.notify()

    def pending(self) -> int:
        """How many keys have an update waiting to be sent."""
        with self._cond:
            return len(self._pending)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is pending (respecting the interval), then stop the flusher."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout)

    def _ensure_flusher(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            for key, payload in batch:
                try:
                    self._send(key, payload)
                except Exception:  # one failed send must not stop the flusher
                    log.exception("%s: sending the update for %r failed", self.name, key)

    def _next_batch(self) -> list[tuple[Hashable, Mapping[str, Any]]] | None:
        """Wait until some key is due; take its latest update. None once closed and drained."""
        with self._cond:
            while True:
                now = time.monotonic()
                ready = [key for key, due in self._due.items() if due <= now]
                if ready:
                    break
                if not self._due:
                    if self._closed:
                        return None
                    self._forget_quiet_keys(now)
                    self._cond.wait()
                else:
                    self._cond.wait(min(self._due.values()) - now)
            for key in ready:
                del self._due[key]
                self._last_sent[key] = now
            return [(key, self._pending.pop(key)) for key in ready]

    def _forget_quiet_keys(self, now: float) -> None:
        # A key silent for a whole interval sends its next update at once anyway.
        for key, sent in list(self._last_sent.items()):
            if now - sent >= self.interval:
                del self._last_sent[key]
