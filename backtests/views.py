"""Backtest pages: the session list, the form to start one, a session, and a comparison.

Each page view renders the whole page, or for htmx requests the named
`{% partialdef %}` of the same template. Live progress fragments are in
`live_updates.py`.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backtests.engine.strategies import get_strategy
from backtests.forms import BacktestForm, params_form, params_from_form
from backtests.models import BacktestSession
from backtests.page_context import (
    STATUS_FILTERS,
    compare_context,
    detail_context,
    list_columns,
    live_groups,
    trades_page,
)
from backtests.selectors import backtest_compare_list, backtest_get, backtest_list, sort_key
from backtests.services import (
    SessionFinishedError,
    backtest_cancel,
    backtest_create,
    backtest_rerun,
)
from trading.engine.strategy import Strategy

LIST_PAGE_SIZE = 50
MAX_COMPARE = 10


def _session_or_404(session_id: int) -> BacktestSession:
    session = backtest_get(session_id)
    if session is None:
        raise Http404("No such backtest")
    return session


@require_GET
def backtest_list_page(request):
    sort = sort_key(request.GET.get("sort"))
    page = Paginator(backtest_list(sort=sort, status=request.GET.get("status") or None),
                     LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "sessions": page.object_list, "sort": sort,
               "columns": list_columns(sort), "status": request.GET.get("status", ""),
               "status_choices": STATUS_FILTERS, "live_groups": live_groups(page.object_list)}
    template = "backtests/list.html" + ("#sessions-table" if request.htmx else "")
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def backtest_new(request):
    data = request.POST if request.method == "POST" else None
    form = BacktestForm(data)
    params = params_form(data.get("strategy") if data else request.GET.get("strategy"), data)
    if data is not None and form.is_valid() and params is not None and params.is_valid():
        space = get_strategy(form.cleaned_data["strategy"]).param_space
        try:
            session = backtest_create(
                user=request.user, **form.service_kwargs(params_from_form(space, params.cleaned_data)))
        except ValidationError as exc:
            form.add_service_errors(exc, params)
        else:
            return redirect("backtests:detail", session.pk)
    strategy = _strategy_or_none(form.data.get("strategy") or form["strategy"].initial)
    return render(request, "backtests/new.html",
                  {"form": form, "params_form": params, "strategy": strategy})


def _strategy_or_none(name: str) -> Strategy | None:
    try:
        return get_strategy(name)
    except KeyError:
        return None


@require_GET
def backtest_params(request):
    """The parameter widgets of the chosen strategy (swapped into the form by htmx)."""
    name = request.GET.get("strategy", "")
    context = {"params_form": params_form(name), "strategy": _strategy_or_none(name)}
    return render(request, "backtests/new.html#strategy-params", context)


@require_GET
def backtest_detail(request, session_id: int):
    session = _session_or_404(session_id)
    if request.htmx and "trades_page" in request.GET:
        context = {"session": session, "trades": trades_page(session, request.GET["trades_page"])}
        return render(request, "backtests/detail.html#trades-table", context)
    template = "backtests/detail.html" + ("#session-body" if request.htmx else "")
    return render(request, template, detail_context(session))


@require_POST
def backtest_cancel_view(request, session_id: int):
    session = _session_or_404(session_id)
    try:
        backtest_cancel(session=session, user=request.user)
        messages.info(request, f"Backtest #{session.pk}: cancel requested.")
    except (SessionFinishedError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    return redirect("backtests:detail", session.pk)


@require_POST
def backtest_rerun_view(request, session_id: int):
    session = _session_or_404(session_id)
    try:
        new = backtest_rerun(session=session, user=request.user)
    except ValidationError as exc:
        messages.error(request, "Cannot re-run: " + "; ".join(exc.messages))
        return redirect("backtests:detail", session.pk)
    messages.info(request, f"Re-running backtest #{session.pk} as #{new.pk}.")
    return redirect("backtests:detail", new.pk)


@require_GET
def backtest_compare(request):
    ids = [int(x) for raw in request.GET.getlist("ids") for x in raw.split(",")
           if x.strip().isdigit() and len(x.strip()) < 19][:MAX_COMPARE]
    sessions = backtest_compare_list(ids)
    return render(request, "backtests/compare.html", compare_context(sessions))

