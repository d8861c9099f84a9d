"""User-supplied instants (query strings, forms) as bounded UTC epoch milliseconds.

Guarantees: `parse_instant` accepts integer milliseconds since the epoch, an ISO
8601 date ("2024-01-31", midnight UTC) or date-time ("2024-01-31T12:00",
"2024-01-31 12:00:00Z", "...+02:00"; no offset means UTC), and returns an int
within [EARLIEST_MS, LATEST_MS]. Anything else raises `ValueError` with a
message fit to show the user, so no garbage reaches a database query.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

EARLIEST_MS = 0  # 1970-01-01
LATEST_MS = 4_102_444_800_000  # 2100-01-01
_DIGITS = re.compile(r"^-?\d{1,20}$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_instant(value: str | int) -> int:
    """`value` as epoch milliseconds (UTC); ValueError if unreadable or out of range."""
    if isinstance(value, bool):
        raise ValueError("expected a date, a date-time or epoch milliseconds")
    if isinstance(value, int):
        return _bounded(value)
    text = str(value).strip()
    if _DIGITS.match(text):
        return _bounded(int(text))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text[:40]!r} is not an ISO 8601 date/date-time or epoch milliseconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _bounded(int(moment.timestamp() * 1000))


def is_date_only(value: str) -> bool:
    """True for 'YYYY-MM-DD' (callers may read an end date as inclusive)."""
    return bool(_DATE_ONLY.match(str(value).strip()))


def _bounded(ms: int) -> int:
    if not EARLIEST_MS <= ms <= LATEST_MS:
        raise ValueError("instant must be between 1970-01-01 and 2100-01-01 (epoch milliseconds)")
    return ms


def format_instant(ms: int) -> str:
    """Epoch milliseconds as 'YYYY-MM-DDTHH:MM:SSZ'."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
