"""Core use-cases: API tokens and audit entries."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from organism.models import ApiToken, AuditEntry, hash_token, new_raw_token


def audit_record(*, user: AbstractBaseUser | None, action: str, target: str = "", details: dict | None = None) -> AuditEntry:
    return AuditEntry.objects.create(user=user, action=action, target=target, details=details or {})


@transaction.atomic
def api_token_create(*, user: AbstractBaseUser, name: str = "default") -> tuple[ApiToken, str]:
    """Create a token; returns (token, raw value). The raw value is never stored."""
    raw = new_raw_token()
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:10], token_hash=hash_token(raw))
    audit_record(user=user, action="api_token.create", target=token.prefix)
    return token, raw


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The live token for `raw`, or None. Marks it used at most once a minute."""
    if not raw:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_token(raw), revoked_at=None, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def api_token_revoke(*, token: ApiToken, user: AbstractBaseUser | None = None) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now())
    audit_record(user=user, action="api_token.revoke", target=token.prefix)
