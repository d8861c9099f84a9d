"""The dashboard navigation: one list, rendered by the base template.

Each entry names a URL; an entry whose URL is not installed yet is not shown,
so the menu only ever links to pages that exist.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

NAV_ITEMS: tuple[tuple[str, str], ...] = (
    ("Dashboard", "home"),
    ("Markets", "trading:markets"),
    ("Backtests", "backtests:list"),
    ("Evolution", "evolution:runs"),
    ("Trading", "trading:sessions"),
    ("Patterns", "patterns:library"),
    ("Parameters", "trading:parameter_sets"),
)


def _resolved() -> list[dict[str, str]]:
    items = []
    for label, name in NAV_ITEMS:
        try:
            items.append({"label": label, "url": reverse(name), "name": name})
        except NoReverseMatch:
            continue
    return items


def navigation(request) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"nav_items": []}
    path = request.path
    items = _resolved()
    for item in items:
        item["active"] = path == item["url"] or (item["url"] != "/" and path.startswith(item["url"]))
    return {"nav_items": items}
