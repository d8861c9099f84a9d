"""Shared fixtures for database-backed tests (PostgreSQL + Redis in CI)."""

from __future__ import annotations

import pytest


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
