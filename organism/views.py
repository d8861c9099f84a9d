"""The dashboard home page."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render

from trading.selectors import instrument_list, market_data_totals


def home(request):
    context = {
        "totals": market_data_totals(),
        "instruments": instrument_list()[:20],
        "mode": "embedded" if settings.EMBEDDED else "distributed",
        "live_trading_enabled": settings.ORGANISM_LIVE_TRADING,
    }
    return render(request, "organism/home.html", context)
