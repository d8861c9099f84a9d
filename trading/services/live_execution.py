"""Live execution: the session's exchange account as a ccxt executor, and its failed orders.

Guarantees:
- Credentials are decrypted only here, straight into the ccxt exchange object;
  `CcxtExecutor` registers them with the secret redactor, so no log line or
  exception message that passes through it can carry them.
- `live_executor` refuses (`OperationalError`) unless live trading is enabled
  in the settings and the account has keys; it then reconciles the
  checkpoint's orders with the exchange before the kernel sends anything, so
  a restart never doubles an order and fills made while down are booked.
- `DatabaseFailedOrderStore` is the persistent `FailedOrderStore`: one row per
  (session, client order id), attempts accumulating, oldest failure first.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction

from organism.errors import OperationalError
from trading.engine.clock import Clock
from trading.engine.execution.failed_orders import FailedOrder
from trading.engine.kernel import KernelConfig, checkpoint_orders
from trading.engine.kernel.serialization import order_from_json, order_to_json
from trading.engine.orders.model import Order
from trading.models import (
    ExchangeAccount,
    FailedOrderRecord,
    OrderRecord,
    SessionAlert,
    TradingSession,
)


def authenticated_exchange(account: ExchangeAccount | None) -> Any:
    """A ccxt exchange logged in with the account's keys (never log or print it)."""
    from trading.services.accounts import exchange_account_credentials
    from trading.services.exchange_client import ExchangeClient

    if account is None or not account.has_keys:
        raise OperationalError("live trading needs an exchange account with API keys")
    api = ExchangeClient(account.exchange.code).api
    if account.sandbox:
        api.set_sandbox_mode(True)
    api.apiKey, api.secret = exchange_account_credentials(account)
    return api


def live_executor(*, session: TradingSession, config: KernelConfig, clock: Clock,
                  checkpoint: Mapping[str, Any] | None) -> Any:
    from trading.engine.execution.ccxt_executor import CcxtExecutor

    if not settings.ORGANISM_LIVE_TRADING:
        raise OperationalError("live trading is disabled (set ORGANISM_LIVE_TRADING=1)")
    from trading.services.session_runtime import market_exchange

    instrument = session.instruments.select_related("exchange").first()
    executor = CcxtExecutor(
        market_exchange(session, instrument), clock=clock,
        instruments=config.instruments, failed_orders=DatabaseFailedOrderStore(session.pk),
    )
    saved = checkpoint_orders(dict(checkpoint)) if checkpoint else []
    in_doubt = _orders_in_doubt(session, {o.client_order_id for o in saved})
    report = executor.reconcile(saved=saved + in_doubt, symbols=config.symbols)
    if report.sent_before_crash or report.unknown_open or report.missing:
        _alert_reconciled(session, report)
    return executor


def _orders_in_doubt(session: TradingSession, saved: set[str]) -> list[Order]:
    """Orders written before sending whose step never committed: maybe at the exchange."""
    intents = (OrderRecord.objects.filter(session=session, status="PENDING")
               .exclude(intent=None).exclude(client_order_id__in=saved).order_by("created_ms"))
    return [order_from_json(record.intent) for record in intents]


def _alert_reconciled(session: TradingSession, report: Any) -> None:
    parts = [f"{len(report.sent_before_crash)} order(s) sent before a restart found at the "
             "exchange (adopted, not re-sent)" if report.sent_before_crash else "",
             f"{len(report.unknown_open)} unknown open order(s) adopted"
             if report.unknown_open else "",
             f"{len(report.missing)} saved order(s) unknown to the exchange"
             if report.missing else ""]
    now_ms = int(time.time() * 1000)
    SessionAlert.objects.get_or_create(session=session, key=f"reconcile:{now_ms}", defaults={
        "ts_ms": now_ms, "kind": SessionAlert.Kind.SYSTEM, "level": SessionAlert.Level.WARNING,
        "message": "reconciled with the exchange: " + "; ".join(p for p in parts if p)})


class DatabaseFailedOrderStore:
    """Failed orders of one session, kept in `FailedOrderRecord` rows."""

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id

    def add(self, failure: FailedOrder) -> None:
        with transaction.atomic():
            previous = (FailedOrderRecord.objects.select_for_update()
                        .filter(session_id=self.session_id,
                                client_order_id=failure.client_order_id).first())
            attempts = failure.attempts + (previous.attempts if previous else 0)
            FailedOrderRecord.objects.update_or_create(
                session_id=self.session_id, client_order_id=failure.client_order_id,
                defaults={"order": order_to_json(failure.order), "reason": failure.reason,
                          "error_type": failure.error_type, "attempts": attempts,
                          "failed_ms": failure.failed_ms},
            )

    def get(self, client_order_id: str) -> FailedOrder | None:
        record = FailedOrderRecord.objects.filter(
            session_id=self.session_id, client_order_id=client_order_id).first()
        return None if record is None else _failure(record)

    def remove(self, client_order_id: str) -> None:
        FailedOrderRecord.objects.filter(
            session_id=self.session_id, client_order_id=client_order_id).delete()

    def all(self) -> list[FailedOrder]:
        records = FailedOrderRecord.objects.filter(session_id=self.session_id)
        return [_failure(r) for r in records.order_by("failed_ms", "id")]


def _failure(record: FailedOrderRecord) -> FailedOrder:
    return FailedOrder(order_from_json(record.order), record.reason, record.error_type,
                       record.attempts, record.failed_ms)
