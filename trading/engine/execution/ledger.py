"""Simulated exchange balances: free and reserved amounts per asset, per order.

Guarantees: every reservation belongs to one client order id and is released
only from that order's own reservation (never more than it holds), so working
orders can never spend each other's funds, and the total of an asset changes
only through `credit` and `debit` (fills).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from trading.engine.execution.protocol import Balance
from trading.engine.money import ZERO, Number, to_decimal


class BalanceLedger:
    def __init__(self, balances: Mapping[str, Number]) -> None:
        self._free: dict[str, Decimal] = {a: to_decimal(v) for a, v in balances.items()}
        self._used: dict[str, Decimal] = dict.fromkeys(self._free, ZERO)
        self._reservations: dict[str, tuple[str, Decimal]] = {}

    def free(self, asset: str) -> Decimal:
        return self._free.get(asset, ZERO)

    def reserved_for(self, client_order_id: str) -> Decimal:
        return self._reservations.get(client_order_id, ("", ZERO))[1]

    def snapshot(self) -> dict[str, Balance]:
        assets = sorted(set(self._free) | set(self._used))
        return {a: Balance(a, self.free(a), self._used.get(a, ZERO)) for a in assets}

    def reserve(self, client_order_id: str, asset: str, amount: Decimal) -> None:
        """Move `amount` of `asset` from free to used for this order."""
        if amount <= 0:
            return
        if amount > self.free(asset):
            raise ValueError(f"cannot reserve {amount} {asset}: only {self.free(asset)} free")
        self._free[asset] = self.free(asset) - amount
        self._used[asset] = self._used.get(asset, ZERO) + amount
        self._reservations[client_order_id] = (asset, self.reserved_for(client_order_id) + amount)

    def release(self, client_order_id: str, amount: Decimal | None = None) -> Decimal:
        """Return up to `amount` (all when None) of the order's reservation to free."""
        asset, held = self._reservations.get(client_order_id, ("", ZERO))
        if held <= 0:
            return ZERO
        take = held if amount is None else min(amount, held)
        self._used[asset] -= take
        self._free[asset] = self.free(asset) + take
        if take == held:
            del self._reservations[client_order_id]
        else:
            self._reservations[client_order_id] = (asset, held - take)
        return take

    def credit(self, asset: str, amount: Decimal) -> None:
        self._free[asset] = self.free(asset) + amount

    def debit(self, asset: str, amount: Decimal) -> None:
        """Take `amount` from free (it may go negative only for a permitted short)."""
        self._free[asset] = self.free(asset) - amount
