"""Markets pages."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render

from trading.models import Instrument
from trading.selectors import instrument_coverage, instrument_list, latest_quality_report


def markets(request):
    rows = [
        {"instrument": i, "coverage": instrument_coverage(i), "quality": latest_quality_report(i)}
        for i in instrument_list()
    ]
    return render(request, "trading/markets.html", {"rows": rows})


def instrument_detail(request, instrument_id: int):
    instrument = get_object_or_404(Instrument.objects.select_related("exchange"), pk=instrument_id)
    return render(
        request,
        "trading/instrument.html",
        {"instrument": instrument, "coverage": instrument_coverage(instrument)},
    )
