"""Template filters for trading sessions: money, percentages, durations, heartbeats."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@register.filter
def money(value: Any) -> str:
    """12345.678 -> '12,345.68'; None -> '–'."""
    number = _number(value)
    return "–" if number is None else f"{number:,.2f}"


@register.filter
def signed_money(value: Any) -> str:
    number = _number(value)
    return "–" if number is None else f"{number:+,.2f}"


@register.filter
def pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage: 0.0123 -> '1.23%'."""
    number = _number(value)
    return "–" if number is None else f"{number * 100:.{int(digits)}f}%"


@register.filter
def signed_pct(value: Any) -> str:
    number = _number(value)
    return "–" if number is None else f"{number * 100:+.2f}%"


@register.filter
def tone(value: Any) -> str:
    """CSS class for a signed number: good, bad or ''."""
    number = _number(value)
    if number is None or number == 0:
        return ""
    return "good" if number > 0 else "bad"


@register.filter
def qty(value: Any) -> str:
    """A Decimal quantity without trailing zeros."""
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        text = f"{value.normalize():f}"
        return text
    number = _number(value)
    return "–" if number is None else f"{number:.8f}".rstrip("0").rstrip(".")


@register.filter
def duration_ms(value: Any) -> str:
    """Milliseconds as '2d 3h', '3h 20m', '45m' or '12s'."""
    number = _number(value)
    if number is None:
        return "–"
    seconds = int(number // 1000)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{seconds}s"


@register.filter
def age(moment: Any) -> str:
    """How long ago a datetime was: '3s ago', '5m ago', 'never'."""
    if moment is None:
        return "never"
    delta: timedelta = timezone.now() - moment
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7_200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3_600}h ago"


@register.filter
def get(mapping: Any, key: Any) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def bar_width(value: Any) -> str:
    """A 0..1 number as a CSS width percentage, clamped."""
    number = _number(value) or 0.0
    return f"{max(0.0, min(1.0, number)) * 100:.0f}%"
