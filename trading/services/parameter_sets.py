"""Versioned parameter sets: create, revise (a new version once used), tag.

Guarantees: values are validated before anything is stored (`ValidationError`
naming each bad "section.field"); a version that a trading session has used is
never modified: revising it creates version n+1 whose parent it is. A version
nobody used yet is revised in place (it has no history to protect).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from organism.services import audit_record
from trading.lock_objects import parameter_set_lock
from trading.models import ParameterSet
from trading.session_config import parameter_values_errors

MAX_TAGS = 20


def _clean_tags(tags: Sequence[str] | None) -> list[str]:
    cleaned = sorted({str(t).strip()[:40] for t in tags or () if str(t).strip()})
    if len(cleaned) > MAX_TAGS:
        raise ValidationError({"tags": f"at most {MAX_TAGS} tags"})
    return cleaned


def _checked_values(values: Any) -> dict[str, Any]:
    errors = parameter_values_errors(values)
    if errors:
        raise ValidationError({f"values.{k}" if k != "values" else k: v for k, v in errors.items()})
    return dict(values)


def parameter_set_is_used(parameter_set: ParameterSet) -> bool:
    return parameter_set.sessions.exists()


@transaction.atomic
def parameter_set_create(
    *,
    name: str,
    values: Mapping[str, Any],
    tags: Sequence[str] | None = None,
    notes: str = "",
    user: AbstractBaseUser | None = None,
) -> ParameterSet:
    """Version 1 of a new name (or the next version of an existing name, without parent)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "must not be empty"})
    if len(name) > 100:
        raise ValidationError({"name": "at most 100 characters"})
    checked = _checked_values(values)
    latest = ParameterSet.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0
    created = ParameterSet.objects.create(
        name=name, version=latest + 1, values=checked, tags=_clean_tags(tags), notes=notes,
        created_by=user,
    )
    audit_record(user=user, action="parameter_set.create", target=str(created))
    return created


@transaction.atomic
def parameter_set_revise(
    *,
    parameter_set: ParameterSet,
    values: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    notes: str | None = None,
    user: AbstractBaseUser | None = None,
) -> ParameterSet:
    """Apply changes: in place if the version was never used, else as a new version."""
    locked = parameter_set_lock(parameter_set.pk)
    if locked is None:
        raise ValidationError("the parameter set no longer exists")
    new_values = _checked_values(values) if values is not None else locked.values
    new_tags = _clean_tags(tags) if tags is not None else locked.tags
    new_notes = notes if notes is not None else locked.notes
    if not parameter_set_is_used(locked):
        locked.values, locked.tags, locked.notes = new_values, new_tags, new_notes
        locked.save(update_fields=["values", "tags", "notes"])
        audit_record(user=user, action="parameter_set.edit", target=str(locked))
        return locked
    latest = ParameterSet.objects.filter(name=locked.name).aggregate(v=Max("version"))["v"]
    revised = ParameterSet.objects.create(
        name=locked.name, version=latest + 1, values=new_values, parent=locked,
        tags=new_tags, notes=new_notes, created_by=user,
    )
    audit_record(user=user, action="parameter_set.revise", target=str(revised),
                 details={"parent": locked.pk})
    return revised
