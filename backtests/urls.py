"""Backtest pages, mounted at /backtests/ (namespace "backtests")."""

from django.urls import path

from backtests import views

app_name = "backtests"

urlpatterns = [
    path("", views.backtest_list_page, name="list"),
    path("new/", views.backtest_new, name="new"),
    path("new/params/", views.backtest_params, name="params"),
    path("compare/", views.backtest_compare, name="compare"),
    path("<int:session_id>/", views.backtest_detail, name="detail"),
    path("<int:session_id>/cancel/", views.backtest_cancel_view, name="cancel"),
    path("<int:session_id>/rerun/", views.backtest_rerun_view, name="rerun"),
]
