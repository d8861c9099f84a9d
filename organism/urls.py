"""URL composition: the one place that mounts every app."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from organism import views
from organism.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("trading.urls")),
    path("backtests/", include("backtests.urls")),
    path("evolution/", include("evolution.urls")),
]
