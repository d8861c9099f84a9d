"""Translate ccxt order, trade and balance structures into engine records.

Guarantees:
- `acknowledge` and `advance(order, raw, fills, ts_ms)` move a local `Order` to the state the
  exchange reports, only through legal transitions: a PENDING order becomes
  SUBMITTED (or REJECTED), fills are booked once each (by trade id, oldest
  first, timestamps never before the order's last update, since exchange and
  local clocks differ by a few ms), then a terminal exchange status is applied.
  An exchange-side expiry of an order without an engine expiry is recorded as
  a cancellation ("expired at the exchange"), and a rejection after a partial
  fill as a cancellation too, because the state machine allows nothing else.
- `fills_from_trades` turns ccxt trades into `Fill`s with the fee converted to
  the quote currency (fees in the base asset at the fill price; in a third
  asset, e.g. BNB, through the injected converter).
- `aggregate_fill` covers exchanges that report an order's filled amount but
  not its trades: one fill for the difference, at the price implied by the
  order's cost (or its average), with a deterministic trade id, so running it
  twice on the same report books nothing twice.
- Amounts go through `money.to_decimal` (shortest float repr): no binary noise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from trading.engine.events import OrderEvent
from trading.engine.execution.protocol import Balance
from trading.engine.instruments import Instrument
from trading.engine.money import ZERO, to_decimal
from trading.engine.orders.model import Fill, Liquidity, Order, OrderSide
from trading.engine.orders.state import OrderStatus, Transition

log = logging.getLogger(__name__)

FeeConverter = Callable[[str, Decimal, str], Decimal | None]  # (asset, amount, quote) -> in quote


def decimal_or_zero(value: Any) -> Decimal:
    if value is None:
        return ZERO
    try:
        return to_decimal(float(value)) if not isinstance(value, Decimal) else value
    except (TypeError, ValueError):
        return ZERO


def side_of(raw: Mapping[str, Any]) -> OrderSide:
    return OrderSide.BUY if str(raw.get("side", "")).lower() == "buy" else OrderSide.SELL


def adopt(raw: Mapping[str, Any], symbol: str, ts_ms: int) -> Order:
    """A PENDING `Order` standing for an exchange order we did not place in this process."""
    client_id = raw.get("clientOrderId") or f"exchange-{raw.get('id')}"
    price = raw.get("price")
    is_limit = str(raw.get("type") or "").lower() != "market" and price not in (None, 0)
    created = int(raw.get("timestamp") or ts_ms)
    return Order.create(
        client_order_id=str(client_id),
        symbol=symbol,
        side=side_of(raw),
        quantity=decimal_or_zero(raw.get("amount")),
        created_ms=min(created, ts_ms),
        limit_price=decimal_or_zero(price) if is_limit else None,
        tag="adopted",
    )


def fills_from_trades(
    order: Order,
    trades: Iterable[Mapping[str, Any]],
    instrument: Instrument,
    convert_fee: FeeConverter,
) -> list[Fill]:
    fills: list[Fill] = []
    for number, trade in enumerate(trades, start=len(order.fills) + 1):
        if trade.get("order") not in (None, order.exchange_order_id):
            continue
        quantity = decimal_or_zero(trade.get("amount"))
        price = decimal_or_zero(trade.get("price"))
        if quantity <= 0 or price <= 0:
            continue
        trade_id = trade.get("id")
        liquidity = Liquidity.MAKER if trade.get("takerOrMaker") == "maker" else Liquidity.TAKER
        fills.append(Fill(
            order.client_order_id,
            order.symbol,
            order.side,
            quantity,
            price,
            fee_in_quote(trade.get("fee"), price, instrument, convert_fee),
            int(trade.get("timestamp") or 0),
            liquidity,
            str(trade_id) if trade_id not in (None, "") else f"{order.client_order_id}-{number}",
        ))
    return fills


def fee_in_quote(
    fee: Mapping[str, Any] | None, price: Decimal, instrument: Instrument, convert: FeeConverter
) -> Decimal:
    if not fee or fee.get("cost") is None:
        return ZERO
    cost = decimal_or_zero(fee.get("cost"))
    currency = fee.get("currency")
    if currency in (None, instrument.quote):
        return cost
    if currency == instrument.base:
        return cost * price
    converted = convert(str(currency), cost, instrument.quote)
    if converted is None:
        log.warning(
            "fee of %s %s on %s could not be valued in %s; booked as 0",
            cost, currency, instrument.symbol, instrument.quote,
        )
        return ZERO
    return converted


def aggregate_fill(
    order: Order,
    found: Sequence[Fill],
    raw: Mapping[str, Any],
    instrument: Instrument,
    convert_fee: FeeConverter,
    ts_ms: int,
) -> Fill | None:
    """One fill for what the exchange says is filled beyond `order`'s fills and `found`."""
    reported = min(decimal_or_zero(raw.get("filled")), order.quantity)
    known = [*order.fills, *found]
    missing = reported - sum((f.quantity for f in known), ZERO)
    if missing <= 0:
        return None
    known_notional = sum((f.notional for f in known), ZERO)
    cost = decimal_or_zero(raw.get("cost"))
    price = (cost - known_notional) / missing if cost > known_notional else ZERO
    if price <= 0:
        price = decimal_or_zero(raw.get("average")) or (order.limit_price or ZERO)
    if price <= 0:
        log.warning("order %s: %s filled at an unknown price; fill not booked",
                    order.client_order_id, missing)
        return None
    fee = fee_in_quote(raw.get("fee"), price, instrument, convert_fee)
    fee -= sum((f.fee for f in known), ZERO)
    return Fill(
        order.client_order_id, order.symbol, order.side, missing, price, max(fee, ZERO),
        int(raw.get("lastTradeTimestamp") or raw.get("timestamp") or ts_ms),
        Liquidity.TAKER, f"{order.client_order_id}-filled-{reported}",
    )


def acknowledge(order: Order, raw: Mapping[str, Any], ts_ms: int) -> Order:
    """A PENDING order as the exchange acknowledged it (SUBMITTED, or REJECTED); else unchanged."""
    if order.status is not OrderStatus.PENDING:
        if order.exchange_order_id is None and _exchange_id(raw) is not None:
            return replace(order, exchange_order_id=_exchange_id(raw))
        return order
    at = max(ts_ms, order.updated_ms)
    if str(raw.get("status") or "").lower() == "rejected":
        return order.reject(at, "rejected by the exchange")
    return order.submit(at, exchange_order_id=_exchange_id(raw))


def advance(order: Order, raw: Mapping[str, Any], fills: Iterable[Fill], ts_ms: int
            ) -> tuple[Order, list[Fill]]:
    """`order` moved to the exchange's report `raw`; returns it and the fills newly booked."""
    order = acknowledge(order, raw, ts_ms)
    status = str(raw.get("status") or "open").lower()
    at = max(ts_ms, order.updated_ms)
    booked: list[Fill] = []
    known = {f.trade_id for f in order.fills}
    for reported in sorted(fills, key=lambda f: f.ts_ms):
        if reported.trade_id in known or not order.status.is_working:
            continue
        fill = _fit(reported, order)
        if fill is None:
            continue
        order = order.fill(fill)
        known.add(fill.trade_id)
        booked.append(fill)
    return _finish(order, status, max(at, order.updated_ms)), booked


def _fit(fill: Fill, order: Order) -> Fill | None:
    quantity = min(fill.quantity, order.remaining_quantity)
    if quantity <= 0:
        return None
    if quantity < fill.quantity:
        log.warning("order %s: trade %s overfills; booking %s of %s", order.client_order_id,
                    fill.trade_id, quantity, fill.quantity)
    return Fill(fill.client_order_id, fill.symbol, fill.side, quantity, fill.price, fill.fee,
                max(fill.ts_ms, order.updated_ms), fill.liquidity, fill.trade_id)


def _finish(order: Order, status: str, at: int) -> Order:
    if not order.status.is_working:
        return order
    if status == "canceled":
        return order.cancel(at, "cancelled at the exchange")
    if status == "expired":
        if order.is_expired_at(at):
            return order.expire(at)
        return order.cancel(at, "expired at the exchange")
    if status == "rejected":
        if order.status is OrderStatus.SUBMITTED:
            return order.reject(at, "rejected by the exchange")
        return order.cancel(at, "rejected at the exchange after a partial fill")
    return order


def _exchange_id(raw: Mapping[str, Any]) -> str | None:
    value = raw.get("id")
    return None if value in (None, "") else str(value)


def balances_from(raw: Mapping[str, Any]) -> dict[str, Balance]:
    """Assets with a non-zero free or used amount, from a ccxt balance structure."""
    free = raw.get("free") or {}
    used = raw.get("used") or {}
    result: dict[str, Balance] = {}
    for asset in sorted(set(free) | set(used)):
        balance = Balance(asset, decimal_or_zero(free.get(asset)), decimal_or_zero(used.get(asset)))
        if balance.free != 0 or balance.used != 0:
            result[asset] = balance
    return result


def transition_event(order: Order, step: Transition) -> OrderEvent:
    """The event for one transition of `order`, with the quantity filled by then."""
    filled = sum((f.quantity for f in order.fills if f.ts_ms <= step.ts_ms), ZERO)
    return OrderEvent(
        ts_ms=step.ts_ms,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side.value,
        order_type=order.type.value,
        status=step.target.value,
        previous_status=None if step.source is None else step.source.value,
        reason=step.reason,
        quantity=order.quantity,
        filled_quantity=filled,
        limit_price=order.limit_price,
        tag=order.tag,
    )
