"""Trading app pages: markets, trading sessions (live page, journal, order traces), parameter sets."""

from django.urls import path

from trading import session_views, views

app_name = "trading"

urlpatterns = [
    path("markets/", views.markets, name="markets"),
    path("markets/<int:instrument_id>/", views.instrument_detail, name="instrument"),
    path("markets/<int:instrument_id>/chart.json", views.instrument_chart, name="instrument_chart"),
    path("trading/", session_views.sessions, name="sessions"),
    path("trading/new/", session_views.session_new, name="session_new"),
    path("trading/<int:session_id>/", session_views.session_detail, name="session"),
    path("trading/<int:session_id>/charts.json", session_views.session_charts,
         name="session_charts"),
    path("trading/<int:session_id>/start/", session_views.session_start, name="session_start"),
    path("trading/<int:session_id>/pause/", session_views.session_pause, name="session_pause"),
    path("trading/<int:session_id>/stop/", session_views.session_stop, name="session_stop"),
    path("trading/<int:session_id>/emergency-stop/", session_views.session_emergency_stop,
         name="session_emergency_stop"),
    path("trading/<int:session_id>/agents/", session_views.session_agents, name="session_agents"),
    path("trading/<int:session_id>/journal/", session_views.session_journal,
         name="session_journal"),
    path("trading/<int:session_id>/trades/<int:trade_id>/", session_views.trade_detail,
         name="trade"),
    path("trading/orders/<str:client_order_id>/", session_views.order_trace, name="order"),
    path("trading/parameters/", session_views.parameter_sets, name="parameter_sets"),
    path("trading/parameters/new/", session_views.parameter_set_new, name="parameter_set_new"),
    path("trading/parameters/<int:parameter_set_id>/", session_views.parameter_set_detail,
         name="parameter_set"),
]
