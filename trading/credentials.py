"""Encryption of exchange API credentials (Fernet, with key rotation).

Guarantees:
- `credential_encrypt` returns a Fernet token (AES-128-CBC + HMAC-SHA256,
  timestamped); the plain text is never stored, logged or returned by anything
  but `credential_decrypt`, which only the live executor's builder calls.
- Keys come from `settings.ORGANISM_FERNET_KEYS` (comma-separated urlsafe
  base64 Fernet keys, newest first). Tokens are encrypted with the first key
  and decrypted with any of them (`MultiFernet`), so a new key is rolled out by
  putting it first, running `manage.py credentials_rotate` to re-encrypt, then
  dropping the old key.
- With no key configured (embedded/dev) one key is derived from SECRET_KEY
  with HKDF-SHA256 (a fixed salt and purpose label), so a local install works
  without setup; changing SECRET_KEY then makes stored credentials unreadable
  (`CredentialError`), never silently wrong.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

HKDF_SALT = b"organism.trading.credentials"
HKDF_INFO = b"fernet key for exchange API credentials"


class CredentialError(Exception):
    """A stored credential cannot be decrypted with the configured keys."""


def derived_key(secret_key: str) -> bytes:
    """The Fernet key derived from SECRET_KEY (embedded/dev installs)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=HKDF_SALT, info=HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def _fernet() -> MultiFernet:
    configured = list(getattr(settings, "ORGANISM_FERNET_KEYS", []) or [])
    keys = configured or [derived_key(settings.SECRET_KEY).decode()]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "ORGANISM_FERNET_KEYS must hold urlsafe base64 32-byte Fernet keys "
            "(generate one with cryptography.fernet.Fernet.generate_key())"
        ) from exc


def credential_encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def credential_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise CredentialError(
            "stored exchange credentials cannot be decrypted with the configured keys "
            "(was ORGANISM_FERNET_KEYS or SECRET_KEY changed?)"
        ) from None


def credential_rotate(token: str) -> str:
    """`token` re-encrypted with the newest key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialError("a stored credential cannot be decrypted for rotation") from None


def credential_fingerprint(plain: str) -> str:
    """12 hex characters of the SHA-256 of a key: tells keys apart, reveals nothing usable."""
    return hashlib.sha256(plain.encode()).hexdigest()[:12]
