"""Trading app pages: markets now; trading sessions join here."""

from django.urls import path

from trading import views

app_name = "trading"

urlpatterns = [
    path("markets/", views.markets, name="markets"),
    path("markets/<int:instrument_id>/", views.instrument_detail, name="instrument"),
    path("markets/<int:instrument_id>/chart.json", views.instrument_chart, name="instrument_chart"),
]
