"""API pieces shared by every app's router: instants, field errors, small schemas.

`Instant` accepts an ISO 8601 date or date-time (UTC when no offset) or epoch
milliseconds and yields an aware UTC datetime; anything else is a 422 naming the
field. Service `ValidationError`s become field errors located like ninja's own
body errors (["body", "payload", <field>, ...]).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator

from trading.instants import parse_instant
from trading.models import ms_to_datetime

INSTANT_HELP = "ISO 8601 date or date-time (UTC when no offset) or epoch milliseconds"


def _instant(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(INSTANT_HELP)
    return ms_to_datetime(parse_instant(value))


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        return ms_to_datetime(parse_instant(value.isoformat()))
    return value


Instant = Annotated[datetime, BeforeValidator(_instant), AfterValidator(_aware)]


class CreatedOut(Schema):
    id: int
    status: str


class InstrumentRefOut(Schema):
    id: int
    exchange: str
    symbol: str
    market_type: str


class FieldErrorOut(Schema):
    loc: list[str] = Field(description='e.g. ["body", "payload", "params", "fast"]')
    msg: str
    type: str


class FieldErrorsOut(Schema):
    detail: list[FieldErrorOut]


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Service field errors located like ninja's own body errors (body, payload, field...)."""
    return [{"loc": ["body", "payload", *key.split(".")], "msg": "; ".join(messages),
             "type": "value_error"} for key, messages in exc.message_dict.items()]
