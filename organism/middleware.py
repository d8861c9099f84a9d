"""Authentication everywhere.

Every page requires a logged-in user (Django's LoginRequiredMiddleware). The
REST API under /api/ authenticates with bearer tokens (or the session) itself
and answers 401 instead of redirecting to the login page.
"""

from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware


class LoginRequiredEverywhere(LoginRequiredMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
