"""Trading pages: sessions, a session's live page and controls, journal, trades, order traces,
parameter sets.

Each page view renders the whole page, or for htmx requests the named
`{% partialdef %}` of the same template. Control buttons are plain POST forms
(CSRF-protected) that call one service and redirect back; a refused command
(e.g. live trading not enabled) comes back as an error message.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from trading.models import TradingSession
from trading.services import sessions as session_services
from trading.services.parameter_sets import parameter_set_create, parameter_set_revise
from trading.session_charts import session_charts_json
from trading.session_forms import (
    AgentWeightsForm,
    JournalFilterForm,
    ParameterSetForm,
    SessionForm,
)
from trading.session_pages import session_page_context
from trading.session_selectors import (
    agent_states,
    decision_list,
    exit_reasons,
    order_get,
    order_timeline,
    parameter_set_get,
    parameter_set_list,
    parameter_set_versions,
    session_get,
    session_list,
    trade_get,
    trade_list,
    trade_orders,
)

PAGE_SIZE = 50


def _session_or_404(session_id: int) -> TradingSession:
    session = session_get(session_id)
    if session is None:
        raise Http404("No such trading session")
    return session


@require_GET
def sessions(request):
    status = request.GET.get("status") or None
    rows = list(session_list(status=status)[:200])
    context = {"sessions": rows, "status": status or "", "statuses": TradingSession.Status.choices,
               "live_groups": ",".join(f"trading.{s.pk}" for s in rows[:20])}
    template = "trading/sessions/list.html" + ("#sessions-table" if request.htmx else "")
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def session_new(request):
    form = SessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = session_services.session_create(user=request.user, **form.service_kwargs())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Session “{session.name}” created; start it when ready.")
            return redirect("trading:session", session.pk)
    return render(request, "trading/sessions/new.html", {"form": form})


@require_GET
def session_detail(request, session_id: int):
    session = _session_or_404(session_id)
    context = session_page_context(session)
    template = "trading/sessions/detail.html" + ("#live-panels" if request.htmx else "")
    return render(request, template, context)


@require_GET
def session_charts(request, session_id: int):
    session = _session_or_404(session_id)
    return HttpResponse(session_charts_json(session, request.GET.get("symbol")),
                        content_type="application/json")


def _control(request, session_id: int, action: str, done: str):
    session = _session_or_404(session_id)
    service = getattr(session_services, f"session_{action}")
    kwargs = {"confirm_live": request.POST.get("confirm_live") == "LIVE"} if action == "start" else {}
    try:
        service(session=session, user=request.user, **kwargs)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("trading:session", session.pk)


@require_POST
def session_start(request, session_id: int):
    return _control(request, session_id, "start", "Started: the first step is on its way.")


@require_POST
def session_pause(request, session_id: int):
    return _control(request, session_id, "pause", "Paused: no new entries; exits keep working.")


@require_POST
def session_stop(request, session_id: int):
    return _control(request, session_id, "stop", "Stopped.")


@require_POST
def session_emergency_stop(request, session_id: int):
    return _control(request, session_id, "emergency_stop",
                    "Emergency stop: orders cancelled, positions flattening, session halted.")


@require_POST
def session_agents(request, session_id: int):
    session = _session_or_404(session_id)
    form = AgentWeightsForm(request.POST, agents=agent_states(session))
    if not form.is_valid():
        messages.error(request, "Weights must be numbers between 0 and 100.")
        return redirect("trading:session", session.pk)
    try:
        session_services.session_agents_update(session=session, weights=form.weights(),
                                               enabled=form.enabled(), user=request.user)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, "Agent weights saved; the kernel applies them at its next step.")
    return redirect("trading:session", session.pk)


@require_GET
def session_journal(request, session_id: int):
    session = _session_or_404(session_id)
    form = JournalFilterForm(request.GET or None)
    trades = trade_list(session, **form.filters())
    page = Paginator(trades, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"session": session, "form": form, "page": page, "trades": page.object_list,
               "exit_reasons": exit_reasons(session),
               "decisions": decision_list(session, limit=30,
                                          actions=["TRAIL_BUY", "TRAIL_SELL", "ENTRY_REFUSED"])}
    template = "trading/sessions/journal.html" + ("#trades-table" if request.htmx else "")
    return render(request, template, context)


@require_GET
def trade_detail(request, session_id: int, trade_id: int):
    session = _session_or_404(session_id)
    trade = trade_get(session, trade_id)
    if trade is None:
        raise Http404("No such trade")
    context = {"session": session, "trade": trade, "context": trade.entry_context or {},
               "orders": trade_orders(trade)}
    return render(request, "trading/sessions/trade.html", context)


@require_GET
def order_trace(request, client_order_id: str):
    order = order_get(client_order_id)
    if order is None:
        raise Http404("No such order")
    context = {"order": order, "session": order.session, "timeline": order_timeline(order),
               "fills": list(order.fills.order_by("ts_ms", "id"))}
    return render(request, "trading/sessions/order.html", context)


@require_GET
def parameter_sets(request):
    rows = parameter_set_list(name=request.GET.get("name") or None)
    return render(request, "trading/parameters/list.html", {"parameter_sets": rows[:300]})


@require_http_methods(["GET", "POST"])
def parameter_set_new(request):
    form = ParameterSetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = parameter_set_create(name=data["name"], values=data["values"],
                                           tags=data["tags"], notes=data["notes"],
                                           user=request.user)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return redirect("trading:parameter_set", created.pk)
    return render(request, "trading/parameters/new.html", {"form": form})


@require_http_methods(["GET", "POST"])
def parameter_set_detail(request, parameter_set_id: int):
    parameter_set = parameter_set_get(parameter_set_id)
    if parameter_set is None:
        raise Http404("No such parameter set")
    form = ParameterSetForm(request.POST or None, initial=_initial(parameter_set))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            revised = parameter_set_revise(parameter_set=parameter_set, values=data["values"],
                                           tags=data["tags"], notes=data["notes"],
                                           user=request.user)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Saved as {revised}.")
            return redirect("trading:parameter_set", revised.pk)
    context = {"parameter_set": parameter_set, "form": form,
               "versions": parameter_set_versions(parameter_set),
               "sessions": parameter_set.sessions.order_by("-created_at")[:50]}
    return render(request, "trading/parameters/detail.html", context)


def _initial(parameter_set) -> dict:
    import json

    return {"name": parameter_set.name, "values": json.dumps(parameter_set.values, indent=2),
            "tags": ", ".join(parameter_set.tags), "notes": parameter_set.notes}
