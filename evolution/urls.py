"""Evolution pages, mounted at /evolution/ (namespace "evolution")."""

from django.urls import path

from evolution import views

app_name = "evolution"

urlpatterns = [
    path("", views.run_list_page, name="runs"),
    path("new/", views.run_new, name="new"),
    path("seeds/", views.seeds_page, name="seeds"),
    path("<int:run_id>/", views.run_detail, name="run"),
    path("<int:run_id>/stop/", views.run_stop, name="stop"),
    path("<int:run_id>/resume/", views.run_resume, name="resume"),
    path("strategies/<str:key>/", views.strategy_detail, name="strategy"),
    path("strategies/<str:key>/backtest/", views.strategy_backtest, name="strategy_backtest"),
]
