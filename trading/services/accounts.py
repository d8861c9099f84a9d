"""Exchange accounts: create, set or replace keys, delete, and read keys for the live executor.

API keys and secrets are accepted only to be encrypted (`trading.credentials`);
they are never logged, never written to the audit log, and never returned:
pages and the API show whether keys are set and a fingerprint.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from organism.services import audit_record
from trading.credentials import (
    credential_decrypt,
    credential_encrypt,
    credential_fingerprint,
    credential_rotate,
)
from trading.lock_objects import exchange_account_lock
from trading.models import Exchange, ExchangeAccount

MAX_SECRET_LENGTH = 512


def _checked(field: str, value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: "must not be empty"})
    if len(value) > MAX_SECRET_LENGTH or any(c.isspace() for c in value):
        raise ValidationError({field: "must be a single token without spaces"})
    return value


@transaction.atomic
def exchange_account_create(
    *,
    exchange: Exchange,
    label: str,
    api_key: str,
    api_secret: str,
    sandbox: bool = False,
    user: AbstractBaseUser | None = None,
) -> ExchangeAccount:
    label = (label or "").strip()
    if not label:
        raise ValidationError({"label": "must not be empty"})
    key, secret = _checked("api_key", api_key), _checked("api_secret", api_secret)
    account = ExchangeAccount(
        exchange=exchange, label=label, sandbox=sandbox, created_by=user,
        api_key_encrypted=credential_encrypt(key),
        api_secret_encrypted=credential_encrypt(secret),
        key_fingerprint=credential_fingerprint(key), keys_updated_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        raise ValidationError({"label": f"{exchange.code} already has an account {label!r}"}) from None
    audit_record(user=user, action="exchange_account.create", target=str(account),
                 details={"fingerprint": account.key_fingerprint})
    return account


@transaction.atomic
def exchange_account_keys_set(
    *, account: ExchangeAccount, api_key: str, api_secret: str,
    user: AbstractBaseUser | None = None,
) -> ExchangeAccount:
    """Replace both credentials (they are write-only: the old ones are never shown)."""
    key, secret = _checked("api_key", api_key), _checked("api_secret", api_secret)
    locked = exchange_account_lock(account.pk)
    if locked is None:
        raise ValidationError("the account no longer exists")
    locked.api_key_encrypted = credential_encrypt(key)
    locked.api_secret_encrypted = credential_encrypt(secret)
    locked.key_fingerprint = credential_fingerprint(key)
    locked.keys_updated_at = timezone.now()
    locked.save(update_fields=["api_key_encrypted", "api_secret_encrypted", "key_fingerprint",
                               "keys_updated_at"])
    audit_record(user=user, action="exchange_account.keys_set", target=str(locked),
                 details={"fingerprint": locked.key_fingerprint})
    return locked


@transaction.atomic
def exchange_account_delete(*, account: ExchangeAccount, user: AbstractBaseUser | None = None) -> None:
    if account.sessions.exists():
        raise ValidationError("the account is used by trading sessions; delete those first")
    target = str(account)
    account.delete()
    audit_record(user=user, action="exchange_account.delete", target=target)


def exchange_account_credentials(account: ExchangeAccount) -> tuple[str, str]:
    """(api key, secret) in plain text, for the live executor only. Never log the result."""
    if not account.has_keys:
        raise ValidationError(f"exchange account {account} has no API keys")
    return (credential_decrypt(account.api_key_encrypted),
            credential_decrypt(account.api_secret_encrypted))


def exchange_accounts_rotate() -> int:
    """Re-encrypt every stored credential with the newest key; returns the accounts done."""
    done = 0
    for account_id in ExchangeAccount.objects.values_list("pk", flat=True):
        with transaction.atomic():
            account = exchange_account_lock(account_id)
            if account is None or not account.has_keys:
                continue
            account.api_key_encrypted = credential_rotate(account.api_key_encrypted)
            account.api_secret_encrypted = credential_rotate(account.api_secret_encrypted)
            account.save(update_fields=["api_key_encrypted", "api_secret_encrypted"])
            done += 1
    return done
