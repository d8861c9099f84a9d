"""The kernel's optional adapters: a price-matching executor and a journal.

Guarantees: these are capabilities, not modes. An executor that simulates
matching (the paper executor) implements `PriceMatcher` and is shown every
accepted price; a live executor is not. A `JournalSink` records every event
the kernel publishes, in order, and is asked to commit after each candle with
a callable that returns the kernel's checkpoint (so it can store events and
state in one transaction, and only pays for the checkpoint when it wants it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from trading.engine.events import EngineEvent
from trading.engine.feeds import Candle, Tick
from trading.engine.orders.model import Fill


@runtime_checkable
class PriceMatcher(Protocol):
    """An executor that simulates matching and must see the prices (the paper executor)."""

    def on_tick(self, tick: Tick) -> list[Fill]: ...

    def on_bar(self, candle: Candle) -> list[Fill]: ...


class JournalSink(Protocol):
    """Where a session's events are stored; `commit` ends each processed candle."""

    def record(self, event: EngineEvent) -> None: ...

    def commit(self, ts_ms: int, checkpoint: Callable[[], dict[str, Any]]) -> None: ...
