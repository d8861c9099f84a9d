"""Shared fixtures for database-backed tests (PostgreSQL + Redis in CI)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(request):
    """The default PBKDF2 costs ~0.5 s per user; tests don't need its strength.

    Engine tests run without the Django plugin (`-p no:django`); they need nothing here.
    """
    if not request.config.pluginmanager.hasplugin("django"):
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="s3cret-pass-123")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="staff", password="s3cret-pass-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def api_token(user):
    from organism.services import api_token_create

    _, raw = api_token_create(user=user, name="tests")
    return raw


@pytest.fixture
def api_client(client, api_token):
    """A Django test client that sends the bearer token on every request."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_token}"
    return client


@pytest.fixture
def logged_in_client(client, user):
    client.force_login(user)
    return client
