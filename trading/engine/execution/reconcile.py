"""Reconcile what a restarted session believes with what the exchange holds.

Run on start, before any new order, with the orders saved at the last
checkpoint. Guarantees of `reconcile_orders`:
- Every saved working order ends up in the exchange's current state: fills
  made while the session was down are booked once each and returned (to be
  journaled), cancellations and expiries applied.
- Every saved PENDING order (persisted, then maybe sent just before the crash)
  and every order in the failed-order store is looked up by client id: found
  ones are adopted in their exchange state, never sent again; the others are
  reported as never sent and may be submitted safely.
- Open orders at the exchange that nobody saved are adopted and reported, so
  they can be cancelled or managed rather than left working unseen.
- Saved working orders the exchange does not know are reported as missing and
  left unchanged: only an operator can say what happened to them.
- Balances are fetched after all of the above, so they include those fills.
Events for everything that changed are published once, at the end.

`recover_failed_orders` resolves the failed-order store later in a session's
life the same way: an order the exchange has is adopted, never re-sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trading.engine.execution.exchange_errors import (
    OperationalExchangeError,
    TemporaryExchangeError,
)
from trading.engine.execution.protocol import Balance
from trading.engine.orders.model import Fill, Order
from trading.engine.orders.state import OrderStatus

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from trading.engine.execution.ccxt_executor import CcxtExecutor


@dataclass(frozen=True)
class ReconcileReport:
    orders: tuple[Order, ...]  # every order tracked after reconciling, latest state
    changed: tuple[Order, ...]  # saved orders whose state moved while we were down
    filled_while_down: tuple[Order, ...]  # saved orders that received fills meanwhile
    fills: tuple[Fill, ...]  # every fill discovered, oldest first, to journal
    unknown_open: tuple[Order, ...]  # open at the exchange, saved by nobody: now tracked
    missing: tuple[Order, ...]  # saved working orders the exchange does not know
    sent_before_crash: tuple[Order, ...]  # saved PENDING or failed orders the exchange has
    never_sent: tuple[Order, ...]  # saved PENDING orders the exchange has not: safe to send
    balances: Mapping[str, Balance]

    @property
    def in_sync(self) -> bool:
        """Nothing happened while we were down and nothing is unexplained."""
        return not (self.changed or self.fills or self.unknown_open or self.missing
                    or self.sent_before_crash)


@dataclass
class _Findings:
    changed: list[Order]
    filled: list[Order]
    fills: list[Fill]
    unknown_open: list[Order]
    missing: list[Order]
    sent: list[Order]
    never_sent: list[Order]


def reconcile_orders(
    executor: CcxtExecutor, saved: Iterable[Order], symbols: Iterable[str] = ()
) -> ReconcileReport:
    saved = list(saved)
    found = _Findings([], [], [], [], [], [], [])
    executor.resume(saved)
    _settle_pending(executor, saved, found)
    names = sorted(set(symbols) | {o.symbol for o in saved}
                   | set(executor.markets.configured_symbols))
    open_reports = {name: _by_client_id(executor.exchange_open_orders(name)) for name in names}
    for order in (o for o in saved if o.status.is_working):
        raw = open_reports.get(order.symbol, {}).pop(order.client_order_id, None)
        _settle_working(executor, order, raw or executor.look_up(order), found)
    tracked = {o.client_order_id for o in executor.known_orders()}
    for reports in open_reports.values():
        for client_id, raw in reports.items():
            if client_id not in tracked:
                adopted, fills = executor.adopt(raw)
                found.unknown_open.append(adopted)
                found.fills.extend(fills)
    balances = executor.balances()
    executor.flush_events()
    return ReconcileReport(
        orders=tuple(executor.known_orders()),
        changed=tuple(found.changed),
        filled_while_down=tuple(found.filled),
        fills=tuple(sorted(found.fills, key=lambda f: f.ts_ms)),
        unknown_open=tuple(found.unknown_open),
        missing=tuple(found.missing),
        sent_before_crash=tuple(found.sent),
        never_sent=tuple(found.never_sent),
        balances=balances,
    )


def _settle_pending(executor: CcxtExecutor, saved: list[Order], found: _Findings) -> None:
    saved_ids = {o.client_order_id for o in saved}
    failed = [f.order for f in executor.failed_orders.all() if f.client_order_id not in saved_ids]
    for order in [o for o in saved if o.status is OrderStatus.PENDING] + failed:
        raw = executor.look_up(order)
        if raw is None:
            if order.client_order_id in saved_ids:
                executor.mark_unsent(order.client_order_id)
                found.never_sent.append(order)
            continue
        updated, fills = executor.apply_report(order, raw)
        executor.failed_orders.remove(order.client_order_id)
        found.sent.append(updated)
        found.fills.extend(fills)


def _settle_working(executor: CcxtExecutor, order: Order, raw: dict[str, Any] | None,
                    found: _Findings) -> None:
    if raw is None:
        found.missing.append(order)
        return
    updated, fills = executor.apply_report(order, raw)
    if fills:
        found.filled.append(updated)
        found.fills.extend(fills)
    if fills or updated.status is not order.status:
        found.changed.append(updated)


def _by_client_id(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(r.get("clientOrderId")): r for r in reports}


def recover_failed_orders(executor: CcxtExecutor, *, resend: bool = True) -> list[Order]:
    resolved: list[Order] = []
    for failure in executor.failed_orders.all():
        try:
            raw = executor.look_up(failure.order)
            if raw is not None:
                order, _ = executor.apply_report(failure.order, raw)
                executor.failed_orders.remove(failure.client_order_id)
            elif resend:
                order = executor.submit(failure.order)
            else:
                continue
        except (TemporaryExchangeError, OperationalExchangeError) as exc:
            log.warning("order %s still unrecoverable: %s", failure.client_order_id, exc)
            continue
        resolved.append(order)
    executor.flush_events()
    return resolved
