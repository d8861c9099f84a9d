"""python manage.py credentials_rotate  (after putting a new key first in ORGANISM_FERNET_KEYS)"""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Re-encrypt every exchange account's API credentials with the newest key of "
            "ORGANISM_FERNET_KEYS; afterwards the old keys can be removed.")

    def handle(self, *args, **options):
        from trading.services.accounts import exchange_accounts_rotate

        done = exchange_accounts_rotate()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the credentials of {done} account(s)."))
