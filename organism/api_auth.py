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


def docs_access(view):
    """Guard the OpenAPI schema and docs: a logged-in session or a bearer token.

    Browsers without a session go to the login page; scripts get a 401.
    """
    from functools import wraps

    from django.contrib.auth.views import redirect_to_login
    from django.http import JsonResponse

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            found = api_token_authenticate(raw=header[7:].strip())
            if found is not None:
                request.user = found.user
                return view(request, *args, **kwargs)
        if request.path.endswith("openapi.json") or header:
            return JsonResponse({"detail": "Unauthorized"}, status=401)
        return redirect_to_login(request.get_full_path())

    return guarded
