"""Parameter sets and exchange accounts over the API (sub-router of `api_sessions`).

Parameter sets are versioned: a version a session used never changes, and
`POST /parameter-sets/{id}/versions` answers the version that holds the
change (the same id, or a new version whose parent is the old one).
Exchange accounts are staff-only; their API key and secret are write-only:
accepted on create and key replacement, never returned (only whether keys
are set and a fingerprint).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from trading.models import Exchange, ExchangeAccount, ParameterSet
from trading.services.accounts import (
    exchange_account_create,
    exchange_account_delete,
    exchange_account_keys_set,
)
from trading.services.parameter_sets import parameter_set_create, parameter_set_revise
from trading.session_selectors import (
    exchange_account_list,
    parameter_set_get,
    parameter_set_list,
)

router = Router(tags=["parameter sets and accounts"])


class ParameterSetOut(Schema):
    id: int
    name: str
    version: int
    values: dict[str, Any]
    parent_id: int | None
    tags: list[str]
    notes: str
    used: bool = Field(description="A session ran on it: it can no longer change")
    created_at: datetime


class ParameterSetIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    values: dict[str, Any] = Field(
        default_factory=dict,
        description='Sections "risk", "agents", "weights", "kernel", "costs" (all optional)')
    tags: list[str] = Field(default_factory=list, max_length=20)
    notes: str = Field("", max_length=10_000)


class ParameterSetRevision(Schema):
    values: dict[str, Any] | None = None
    tags: list[str] | None = Field(None, max_length=20)
    notes: str | None = Field(None, max_length=10_000)


class NameQuery(Schema):
    name: str | None = Field(None, max_length=100)


class AccountOut(Schema):
    id: int
    exchange: str
    label: str
    sandbox: bool
    has_keys: bool
    key_fingerprint: str = Field(description="Hash prefix telling keys apart; not the key")
    keys_updated_at: datetime | None
    created_at: datetime


class AccountIn(Schema):
    exchange: str = Field(min_length=1, max_length=40, description="ccxt id, e.g. binance")
    label: str = Field(min_length=1, max_length=100)
    api_key: str = Field(min_length=1, max_length=512, description="Write-only")
    api_secret: str = Field(min_length=1, max_length=512, description="Write-only")
    sandbox: bool = False


class KeysIn(Schema):
    api_key: str = Field(min_length=1, max_length=512)
    api_secret: str = Field(min_length=1, max_length=512)


def _set_out(parameter_set: ParameterSet) -> dict[str, Any]:
    return {f: getattr(parameter_set, f) for f in (
        "id", "name", "version", "values", "parent_id", "tags", "notes", "created_at")} | {
        "used": parameter_set.sessions.exists()}


def _account_out(account: ExchangeAccount) -> dict[str, Any]:
    return {"id": account.pk, "exchange": account.exchange.code, "label": account.label,
            "sandbox": account.sandbox, "has_keys": account.has_keys,
            "key_fingerprint": account.key_fingerprint, "keys_updated_at": account.keys_updated_at,
            "created_at": account.created_at}


def _staff(request) -> None:
    if not request.user.is_staff:
        raise HttpError(403, "exchange accounts are for staff users")


def _set_or_404(parameter_set_id: int) -> ParameterSet:
    found = parameter_set_get(parameter_set_id)
    if found is None:
        raise Http404("No such parameter set")
    return found


@router.get("/parameter-sets", response=list[ParameterSetOut], summary="Parameter sets")
def list_parameter_sets(request, query: Query[NameQuery]):
    return [_set_out(p) for p in parameter_set_list(name=query.name)[:500]]


@router.post("/parameter-sets", response={201: ParameterSetOut},
             summary="Create a parameter set (next version of the name)")
def create_parameter_set(request, payload: ParameterSetIn):
    created = parameter_set_create(name=payload.name, values=payload.values, tags=payload.tags,
                                   notes=payload.notes, user=request.user)
    return Status(201, _set_out(created))


@router.get("/parameter-sets/{int:parameter_set_id}", response=ParameterSetOut,
            summary="A parameter set version")
def get_parameter_set(request, parameter_set_id: int):
    return _set_out(_set_or_404(parameter_set_id))


@router.post("/parameter-sets/{int:parameter_set_id}/versions", response={200: ParameterSetOut},
             summary="Change a parameter set (a used version becomes a new version)")
def revise_parameter_set(request, parameter_set_id: int, payload: ParameterSetRevision):
    revised = parameter_set_revise(parameter_set=_set_or_404(parameter_set_id),
                                   values=payload.values, tags=payload.tags, notes=payload.notes,
                                   user=request.user)
    return Status(200, _set_out(revised))


@router.get("/accounts", response=list[AccountOut], summary="Exchange accounts (staff)")
def list_accounts(request):
    _staff(request)
    return [_account_out(a) for a in exchange_account_list()]


@router.post("/accounts", response={201: AccountOut}, summary="Add an exchange account (staff)")
def create_account(request, payload: AccountIn):
    _staff(request)
    exchange = Exchange.objects.filter(code=payload.exchange).first()
    if exchange is None:
        raise ValidationError({"exchange": f"unknown exchange {payload.exchange!r}"})
    account = exchange_account_create(exchange=exchange, label=payload.label,
                                      api_key=payload.api_key, api_secret=payload.api_secret,
                                      sandbox=payload.sandbox, user=request.user)
    return Status(201, _account_out(account))


@router.put("/accounts/{int:account_id}/keys", response=AccountOut,
            summary="Replace an account's API keys (staff)")
def replace_keys(request, account_id: int, payload: KeysIn):
    _staff(request)
    account = ExchangeAccount.objects.select_related("exchange").filter(pk=account_id).first()
    if account is None:
        raise Http404("No such account")
    updated = exchange_account_keys_set(account=account, api_key=payload.api_key,
                                        api_secret=payload.api_secret, user=request.user)
    return _account_out(updated)


@router.delete("/accounts/{int:account_id}", response={204: None},
               summary="Delete an unused account (staff)")
def delete_account(request, account_id: int):
    _staff(request)
    account = ExchangeAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise Http404("No such account")
    exchange_account_delete(account=account, user=request.user)
    return Status(204, None)
