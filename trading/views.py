"""Markets pages: the instrument overview and an instrument's chart.

Each page view renders the whole page, or for htmx requests the named
`{% partialdef %}` fragment of the same template. The chart JSON view serves
the same figure for the page script when the user zooms or a candle arrives.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET

from trading.charts import ChartData, chart_data_load, chart_json
from trading.engine.market import TIMEFRAME_MS
from trading.forms import ChartForm
from trading.market_selectors import instrument_get, instrument_timeframes, market_overview
from trading.models import Instrument


def _instrument_or_404(instrument_id: int) -> Instrument:
    instrument = instrument_get(instrument_id)
    if instrument is None:
        raise Http404("No such instrument")
    return instrument


def _chart(instrument: Instrument, form: ChartForm) -> ChartData:
    return chart_data_load(
        instrument_id=instrument.pk,
        title=f"{instrument} · {form.cleaned_data['timeframe']}",
        request=form.chart_request(),
        max_points=settings.ORGANISM_CHART_MAX_POINTS,
    )


@require_GET
def markets(request):
    template = "trading/markets.html" + ("#markets-table" if request.htmx else "")
    return render(request, template, {"overview": market_overview()})


@require_GET
def instrument_detail(request, instrument_id: int):
    instrument = _instrument_or_404(instrument_id)
    timeframes = instrument_timeframes(instrument)
    form = ChartForm.from_query(request.GET, timeframes=[t.timeframe for t in timeframes])
    chart = _chart(instrument, form) if timeframes and form.is_valid() else None
    context = {
        "instrument": instrument,
        "timeframes": timeframes,
        "form": form,
        "chart": chart,
        "chart_json": chart_json(chart) if chart else "",
    }
    template = "trading/instrument.html" + ("#chart-panel" if request.htmx else "")
    return render(request, template, context)


@require_GET
@gzip_page  # 73k bars + 4 indicators: 962 kB -> 403 kB; no secrets in it (BREACH)
def instrument_chart(request, instrument_id: int):
    instrument = _instrument_or_404(instrument_id)
    # Any known timeframe: one without stored candles is an empty chart, not an error.
    form = ChartForm.from_query(request.GET, timeframes=list(TIMEFRAME_MS))
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=422)
    return HttpResponse(chart_json(_chart(instrument, form)), content_type="application/json")
