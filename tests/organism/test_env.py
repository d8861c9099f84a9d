"""Typed environment helpers fail clearly on bad values."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from organism.env import env_bool, env_int, env_list, env_url


def test_it_reads_booleans(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "0")
    assert env_bool("X_FLAG", True) is False


def test_it_rejects_a_non_boolean(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe' is not a boolean"):
        env_bool("X_FLAG")


def test_it_rejects_a_non_integer_and_a_too_small_one(monkeypatch):
    monkeypatch.setenv("X_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "3")
    with pytest.raises(ImproperlyConfigured, match="must be >= 10"):
        env_int("X_INT", 10, minimum=10)


def test_it_rejects_a_url_with_the_wrong_scheme_without_echoing_credentials(monkeypatch):
    monkeypatch.setenv("X_URL", "mysql://user:secret@db/x")
    with pytest.raises(ImproperlyConfigured) as err:
        env_url("X_URL", schemes=("postgres",))
    assert "secret" not in str(err.value)


def test_it_splits_lists(monkeypatch):
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env_list("X_LIST", []) == ["a", "b", "c"]


def test_a_bad_setting_stops_django_from_starting():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={"DJANGO_SETTINGS_MODULE": "organism.settings", "DATABASE_URL": "mysql://x/y", "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "DATABASE_URL must be a URL with scheme" in result.stderr
