"""Template filters for backtest figures: `{{ value|metric:"pct" }}` and friends."""

from __future__ import annotations

import json
import math
from typing import Any

from django import template

from trading.models import ms_to_datetime

register = template.Library()

MISSING = "–"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@register.filter
def metric(value: Any, unit: str = "ratio") -> str:
    """A figure in its unit: pct (fraction -> %), pct100 (already %), money, ratio, count,
    days, hours."""
    number = _number(value)
    if number is None:
        return MISSING
    formats = {
        "pct": lambda v: f"{100 * v:,.2f}%",
        "pct100": lambda v: f"{v:,.2f}%",
        "money": lambda v: f"{v:,.2f}",
        "count": lambda v: f"{v:,.0f}" if v == int(v) else f"{v:,.1f}",
        "days": lambda v: f"{v:,.1f} d",
        "hours": lambda v: f"{v:,.1f} h",
    }
    return formats.get(unit, lambda v: f"{v:,.2f}")(number)


@register.filter
def signed_class(value: Any) -> str:
    """'good' for a positive figure, 'bad' for a negative one, '' otherwise."""
    number = _number(value)
    if number is None or number == 0:
        return ""
    return "good" if number > 0 else "bad"


@register.filter
def percent_width(value: Any) -> str:
    """A 0..1 progress fraction as a CSS width ('42.0%')."""
    number = _number(value) or 0.0
    return f"{100 * min(max(number, 0.0), 1.0):.1f}%"


@register.filter
def ms_date(value: Any) -> str:
    number = _number(value)
    return MISSING if number is None else ms_to_datetime(int(number)).strftime("%Y-%m-%d %H:%M")


@register.filter
def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@register.filter
def get_attr(obj: Any, name: str) -> Any:
    return getattr(obj, name, None)


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def stat_label(key: str) -> str:
    from backtests.page_context import STATISTICS

    return STATISTICS.get(key, (key.replace("_", " ").capitalize(), ""))[0]


@register.filter
def stat_unit(key: str) -> str:
    from backtests.page_context import STATISTICS

    return STATISTICS.get(key, ("", "ratio"))[1]
