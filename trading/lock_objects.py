"""Every row lock of the trading app (`select_for_update`), in one written order.

Lock order, when a transaction takes several: trading sessions (ascending pk),
then parameter sets (ascending pk), then exchange accounts. Each function
locks in ascending primary-key order, so two transactions can never wait on
each other in opposite orders. Call them inside `transaction.atomic()`.
"""

from __future__ import annotations

from collections.abc import Iterable

from trading.models import ExchangeAccount, ParameterSet, TradingSession


def trading_session_lock(session_id: int) -> TradingSession | None:
    """The session row, locked until the transaction ends (None if it is gone)."""
    return TradingSession.objects.select_for_update().filter(pk=session_id).first()


def trading_sessions_lock(session_ids: Iterable[int]) -> list[TradingSession]:
    return list(
        TradingSession.objects.select_for_update().filter(pk__in=list(session_ids)).order_by("pk")
    )


def parameter_set_lock(parameter_set_id: int) -> ParameterSet | None:
    return ParameterSet.objects.select_for_update().filter(pk=parameter_set_id).first()


def exchange_account_lock(account_id: int) -> ExchangeAccount | None:
    return ExchangeAccount.objects.select_for_update().filter(pk=account_id).first()
