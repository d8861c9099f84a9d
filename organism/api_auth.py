"""API authentication: `Authorization: Bearer <token>` or the browser session."""

from __future__ import annotations

from ninja.security import HttpBearer, django_auth

from organism.services import api_token_authenticate


class BearerToken(HttpBearer):
    def authenticate(self, request, token: str):
        found = api_token_authenticate(raw=token)
        if found is None:
            return None
        request.user = found.user
        return found.user


API_AUTH = [BearerToken(), django_auth]
