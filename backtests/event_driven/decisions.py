"""What the trading kernel decided and did during a replay, counted for the session page.

Guarantees: a `KernelSummary` subscribed to a run's event bus sees every
event the kernel publishes and keeps only counts (and the first
`MAX_BREAKER_EVENTS` circuit-breaker events), so memory does not grow with the
length of the replay. Skip and refusal reasons are grouped by their wording
with every number replaced by "#" ("confidence 0.41 below the moderate buy
threshold 0.6" and "... 0.38 ..." are one reason); `as_dict` lists the
`MAX_REASONS` most frequent, the rest summed as "other reasons". One summary
may follow several accounts' runs: it sums them.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from trading.engine.events import (
    BreakerEvent,
    DataRejectedEvent,
    DecisionEvent,
    EventBus,
    FillEvent,
    OrderEvent,
)
from trading.engine.kernel import TradeClosedEvent, TrailingEvent

MAX_REASONS = 12
MAX_BREAKER_EVENTS = 50
TRIP_ACTIONS = ("PAUSE", "HALT")
REFUSED = "ENTRY_REFUSED"
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def reason_key(reason: str) -> str:
    """The wording of a reason without its figures."""
    return _NUMBER.sub("#", reason).strip()


def skip_reason(reasoning: str) -> str:
    """Why a decision skipped: the last reason given (a gate's block comes after "skip")."""
    reasons = [r for r in reasoning.split("; ") if r]
    if reasons and reasons[-1] == "skip":
        reasons = reasons[:-1]
    return reasons[-1] if reasons else "no reason given"


def _ranked(counter: Counter[str]) -> list[dict[str, Any]]:
    top = counter.most_common(MAX_REASONS)
    rows = [{"reason": reason, "count": count} for reason, count in top]
    rest = sum(counter.values()) - sum(count for _, count in top)
    if rest:
        rows.append({"reason": "other reasons", "count": rest})
    return rows


class KernelSummary:
    def __init__(self) -> None:
        self.actions: Counter[str] = Counter()
        self.skips: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.breakers: Counter[tuple[str, str]] = Counter()
        self.breaker_events: list[dict[str, Any]] = []
        self.order_statuses: Counter[str] = Counter()
        self.trailing: Counter[str] = Counter()
        self.exits: Counter[str] = Counter()
        self.fills: Counter[str] = Counter()
        self.rejected_data = 0

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(DecisionEvent, self._decision)
        bus.subscribe(BreakerEvent, self._breaker)
        bus.subscribe(OrderEvent, lambda e: self.order_statuses.update([e.status]))
        bus.subscribe(TrailingEvent, lambda e: self.trailing.update([e.status]))
        bus.subscribe(TradeClosedEvent, lambda e: self.exits.update([e.exit_reason]))
        bus.subscribe(FillEvent, lambda e: self.fills.update([e.liquidity.lower()]))
        bus.subscribe(DataRejectedEvent, self._rejected)

    def _decision(self, event: DecisionEvent) -> None:
        if event.action == REFUSED:
            self.refusals.update([reason_key(event.reasoning)])
            return
        self.actions.update([event.action])
        if event.action == "SKIP":
            self.skips.update([reason_key(skip_reason(event.reasoning))])

    def _breaker(self, event: BreakerEvent) -> None:
        self.breakers.update([(event.breaker, event.action)])
        if len(self.breaker_events) < MAX_BREAKER_EVENTS:
            self.breaker_events.append({
                "time": event.ts_ms, "breaker": event.breaker, "action": event.action,
                "reason": event.reason, "value": event.value, "limit": event.limit,
            })

    def _rejected(self, event: DataRejectedEvent) -> None:
        self.rejected_data += 1

    def as_dict(self) -> dict[str, Any]:
        trips = sum(n for (_, action), n in self.breakers.items() if action in TRIP_ACTIONS)
        return {
            "decisions": {"total": sum(self.actions.values()),
                          "by_action": dict(sorted(self.actions.items()))},
            "skips": _ranked(self.skips),
            "entries_refused": _ranked(self.refusals),
            "breakers": {
                "trips": trips,
                "by_breaker": [{"breaker": b, "action": a, "count": n}
                               for (b, a), n in sorted(self.breakers.items())],
                "events": self.breaker_events,
                "events_shown": len(self.breaker_events),
            },
            "orders": dict(sorted(self.order_statuses.items())),
            "fills": dict(sorted(self.fills.items())),
            "trailing_orders": dict(sorted(self.trailing.items())),
            "exit_reasons": dict(self.exits.most_common()),
            "rejected_data": self.rejected_data,
        }
