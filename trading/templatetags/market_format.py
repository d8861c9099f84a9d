"""Template filters for market data: prices, volumes and epoch-millisecond times (UTC)."""

from __future__ import annotations

import math

from django import template

from trading.models import ms_to_datetime

register = template.Library()


@register.filter
def price(value: float | None) -> str:
    """43210.5 -> '43,210.5'; precision grows as the price gets smaller; trailing zeros dropped."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    number = float(value)
    decimals = 2 if abs(number) >= 1000 else 4 if abs(number) >= 1 else 8
    text = f"{number:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def quantity(value: float | None) -> str:
    """Volumes: thousands separators, at most 4 decimals."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    text = f"{float(value):,.4f}"
    return text.rstrip("0").rstrip(".")


@register.filter
def ms_utc(value: int | None) -> str:
    """Epoch milliseconds as 'YYYY-MM-DD HH:MM UTC'."""
    if value is None:
        return "–"
    return ms_to_datetime(int(value)).strftime("%Y-%m-%d %H:%M UTC")
