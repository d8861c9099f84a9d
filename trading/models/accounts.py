"""Exchange accounts: where live sessions trade, with their API credentials encrypted.

The key and secret are stored only as Fernet tokens (`trading.credentials`);
the database never holds them in plain text, and nothing but the live
executor ever decrypts them. A short fingerprint (a hash prefix, not part of
the key) tells accounts apart on pages without revealing anything.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from trading.models.market_data import Exchange


class ExchangeAccount(models.Model):
    exchange = models.ForeignKey(Exchange, on_delete=models.PROTECT, related_name="accounts")
    label = models.CharField(max_length=100)
    api_key_encrypted = models.TextField(blank=True, editable=False)
    api_secret_encrypted = models.TextField(blank=True, editable=False)
    key_fingerprint = models.CharField(
        max_length=16, blank=True, editable=False,
        help_text="First characters of the key's SHA-256 (not of the key itself)",
    )
    sandbox = models.BooleanField(default=False, help_text="Use the exchange's test network")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    keys_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["exchange__code", "label", "id"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "label"], name="uniq_exchange_account"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange.code}:{self.label}"

    @property
    def has_keys(self) -> bool:
        return bool(self.api_key_encrypted and self.api_secret_encrypted)
