"""One long-lived event loop per process for publishing from synchronous code.

channels-redis keeps its Redis connections per event loop. `async_to_sync`
called from a plain thread (a Celery worker, a management command) runs every
call on a brand-new loop in a new thread, so each publish would open a Redis
connection, send one message and close it again. `PublisherLoop` runs one loop
on a daemon thread for the life of the process; coroutines handed to it reuse
that loop's connections.

Guarantees: `run` blocks until the coroutine finished (or raises its exception
or TimeoutError); `submit` never blocks; coroutines run in the order handed in.
A `PublisherLoop` belongs to one process: after a fork the child makes its own.
`stop` closes the loop, which lets channels-redis close its connections.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class PublisherLoop:
    def __init__(self, name: str = "realtime-publisher") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coro: Coroutine[Any, Any, T], *, timeout: float) -> T:
        """Run `coro` on the publisher loop and wait for its result."""
        return self.submit(coro).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `coro` on the publisher loop; the future holds its outcome."""
        return asyncio.run_coroutine_threadsafe(coro, self._running_loop())

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                ready = threading.Event()
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._serve, args=(loop, ready), name=self.name, daemon=True
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            # channels-redis hooks loop.close() to flush its per-loop connections.
            loop.close()
