"""First-run setup for `organism_run`: admin user, sample data, the demo session.

Beat schedules are created by `migrate` (organism.schedules).

Idempotent: running it again changes nothing that is already in place.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import transaction

from organism.services import audit_record

Say = Callable[[str], None]


@transaction.atomic
def admin_user_ensure(*, say: Say) -> None:
    """Create the admin user once. The password comes from ORGANISM_ADMIN_PASSWORD,
    or is generated and printed this one time (it is never stored in plain text)."""
    User = get_user_model()
    username = os.environ.get("ORGANISM_ADMIN_USER", "admin")
    wanted = os.environ.get("ORGANISM_ADMIN_PASSWORD")
    user = User.objects.filter(username=username).first()
    if user is None:
        password = wanted or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        audit_record(user=user, action="admin.create", target=username)
        if wanted:
            say(f"Admin user '{username}' created with the password from ORGANISM_ADMIN_PASSWORD.")
        else:
            say(f"Admin user '{username}' created. Password (shown once): {password}")
    elif wanted and not user.check_password(wanted):
        user.set_password(wanted)
        user.save(update_fields=["password"])
        say(f"Admin user '{username}': password updated from ORGANISM_ADMIN_PASSWORD.")


def bootstrap(*, say: Say) -> None:
    from trading.services.demo import demo_session_ensure
    from trading.services.sample_data import sample_data_ensure

    admin_user_ensure(say=say)
    sample_data_ensure(say=say)
    demo_session_ensure(say=say)
