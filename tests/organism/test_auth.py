"""Login everywhere; bearer tokens for the API."""

import pytest

from organism.models import ApiToken
from organism.services import api_token_revoke

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_pages_to_login(client):
    # when
    response = client.get("/markets/")
    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_serves_the_home_page_to_a_logged_in_user(logged_in_client):
    response = logged_in_client.get("/")
    assert response.status_code == 200
    assert b"Dashboard" in response.content


def test_it_rejects_api_calls_without_a_token(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 401


def test_it_accepts_a_valid_bearer_token(api_client):
    response = api_client.get("/api/v1/status")
    assert response.status_code == 200
    assert response.json()["user"] == "alice"


def test_it_rejects_a_revoked_token(client, user, api_token):
    # given
    api_token_revoke(token=ApiToken.objects.get(user=user))
    # when
    response = client.get("/api/v1/health", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    # then
    assert response.status_code == 401


def test_it_stores_only_the_token_hash(user, api_token):
    token = ApiToken.objects.get(user=user)
    assert api_token not in (token.token_hash, token.prefix)
    assert len(token.token_hash) == 64


def test_it_keeps_the_admin_staff_only(logged_in_client):
    response = logged_in_client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_it_serves_the_openapi_schema(api_client):
    response = api_client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/instruments" in response.json()["paths"]


def test_it_creates_a_token_from_the_admin_and_shows_it_once(client, staff_user, user):
    # given
    client.force_login(staff_user)
    # when
    response = client.post("/admin/organism/apitoken/add/", {"user": user.pk, "name": "ci"}, follow=True)
    # then
    token = ApiToken.objects.get(user=user, name="ci")
    shown = [str(m) for m in response.context["messages"]]
    raw = shown[0].split(": ", 1)[1].split(" ", 1)[0]
    assert raw.startswith(token.prefix)
    assert client.get("/api/v1/health", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_the_cli_prints_a_working_token(client, user, capsys):
    from django.core.management import call_command

    call_command("api_token_create", "alice")
    raw = capsys.readouterr().out.strip()
    assert client.get("/api/v1/health", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_the_cli_refuses_an_unknown_user():
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user named"):
        call_command("api_token_create", "nobody")


def test_it_keeps_the_openapi_schema_and_docs_behind_authentication(client):
    assert client.get("/api/v1/openapi.json").status_code == 401
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 302
    assert docs["Location"].startswith("/accounts/login/")


def test_it_serves_the_docs_to_a_logged_in_user(logged_in_client):
    assert logged_in_client.get("/api/v1/docs").status_code == 200
