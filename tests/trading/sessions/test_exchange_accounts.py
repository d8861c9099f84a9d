"""Exchange accounts: API keys encrypted at rest, write-only, never logged, rotatable."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from tests.factories import ExchangeFactory
from trading.credentials import CredentialError, credential_decrypt, derived_key
from trading.models import ExchangeAccount
from trading.services.accounts import (
    exchange_account_create,
    exchange_account_credentials,
    exchange_account_keys_set,
    exchange_accounts_rotate,
)

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def _raw_columns(account_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ExchangeAccount._meta.db_table} WHERE id = %s",
                       [account_id])
        return " ".join(str(v) for v in cursor.fetchone())


@pytest.fixture
def exchange(db):
    return ExchangeFactory(code="binance")


def test_keys_are_stored_encrypted_and_never_logged(exchange, caplog):
    # given
    caplog.set_level(logging.DEBUG)
    # when
    account = exchange_account_create(exchange=exchange, label="main", api_key=API_KEY,
                                      api_secret=API_SECRET)
    # then: the database row holds neither in plain text, nor does any log line
    raw = _raw_columns(account.pk)
    assert API_KEY not in raw and API_SECRET not in raw
    assert account.api_key_encrypted.startswith("gAAAAA")  # a Fernet token
    assert all(API_KEY not in r.getMessage() and API_SECRET not in r.getMessage()
               for r in caplog.records)
    assert exchange_account_credentials(account) == (API_KEY, API_SECRET)


def test_the_fingerprint_tells_keys_apart_without_revealing_them(exchange):
    first = exchange_account_create(exchange=exchange, label="a", api_key=API_KEY,
                                    api_secret=API_SECRET)
    second = exchange_account_create(exchange=exchange, label="b", api_key=API_SECRET,
                                     api_secret=API_KEY)
    assert first.key_fingerprint != second.key_fingerprint
    assert first.key_fingerprint not in API_KEY and len(first.key_fingerprint) == 12


def test_replacing_keys_reencrypts_and_changes_the_fingerprint(exchange):
    account = exchange_account_create(exchange=exchange, label="main", api_key=API_KEY,
                                      api_secret=API_SECRET)
    updated = exchange_account_keys_set(account=account, api_key="new-key-123",
                                        api_secret="new-secret-456")
    assert exchange_account_credentials(updated) == ("new-key-123", "new-secret-456")
    assert updated.key_fingerprint != account.key_fingerprint


def test_keys_survive_a_key_rotation_and_are_reencrypted_with_the_new_key(exchange, settings):
    # given: credentials stored under the first key
    old_key = Fernet.generate_key().decode()
    settings.ORGANISM_FERNET_KEYS = [old_key]
    account = exchange_account_create(exchange=exchange, label="main", api_key=API_KEY,
                                      api_secret=API_SECRET)
    # when: a new key is put first, the old one kept, and the accounts rotated
    new_key = Fernet.generate_key().decode()
    settings.ORGANISM_FERNET_KEYS = [new_key, old_key]
    assert exchange_account_credentials(account) == (API_KEY, API_SECRET)
    assert exchange_accounts_rotate() == 1
    # then: the new key alone decrypts them
    settings.ORGANISM_FERNET_KEYS = [new_key]
    account.refresh_from_db()
    assert exchange_account_credentials(account) == (API_KEY, API_SECRET)
    settings.ORGANISM_FERNET_KEYS = [old_key]
    with pytest.raises(CredentialError):
        credential_decrypt(account.api_key_encrypted)


def test_without_configured_keys_one_is_derived_from_the_secret_key(exchange, settings):
    settings.ORGANISM_FERNET_KEYS = []
    account = exchange_account_create(exchange=exchange, label="dev", api_key=API_KEY,
                                      api_secret=API_SECRET)
    derived = Fernet(derived_key(settings.SECRET_KEY))
    assert derived.decrypt(account.api_key_encrypted.encode()).decode() == API_KEY
    assert derived_key("another secret key of at least thirty-two chars") != derived_key(
        settings.SECRET_KEY)


def test_the_admin_form_never_renders_the_keys(exchange, client, staff_user):
    # given
    account = exchange_account_create(exchange=exchange, label="main", api_key=API_KEY,
                                      api_secret=API_SECRET)
    client.force_login(staff_user)
    # when
    page = client.get(f"/admin/trading/exchangeaccount/{account.pk}/change/")
    changed = client.post(f"/admin/trading/exchangeaccount/{account.pk}/change/", {
        "exchange": exchange.pk, "label": "renamed", "api_key": "", "api_secret": ""})
    # then
    html = page.content.decode()
    assert page.status_code == 200 and API_KEY not in html and API_SECRET not in html
    assert account.api_key_encrypted not in html
    assert changed.status_code == 302
    account.refresh_from_db()
    assert account.label == "renamed" and exchange_account_credentials(account)[0] == API_KEY


def test_the_admin_adds_an_account_through_the_service(exchange, client, staff_user, caplog):
    caplog.set_level(logging.DEBUG)
    client.force_login(staff_user)
    added = client.post("/admin/trading/exchangeaccount/add/", {
        "exchange": exchange.pk, "label": "admin", "api_key": API_KEY, "api_secret": API_SECRET})
    assert added.status_code == 302
    account = ExchangeAccount.objects.get(label="admin")
    assert exchange_account_credentials(account) == (API_KEY, API_SECRET)
    assert API_KEY not in _raw_columns(account.pk)
    assert all(API_KEY not in r.getMessage() for r in caplog.records)
