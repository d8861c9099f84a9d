"""Evolution pages: the runs list, the form to start a run, a run, a strategy, the seeds.

Each page view renders the whole page, or for htmx requests the named
`{% partialdef %}` of the same template. Live fragments are in `live_updates.py`.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from evolution.engine.seeds import describe_seeds
from evolution.forms import EvolutionRunForm
from evolution.models import EvolutionRun, Strategy
from evolution.page_context import live_state, run_detail_context, strategy_detail_context
from evolution.selectors import run_get, run_list, strategy_get, unfinished_run_ids
from evolution.services import (
    RunFinishedError,
    RunNotResumableError,
    evolution_resume,
    evolution_run_create,
    evolution_run_stop,
    strategy_open_as_backtest,
)

PAGE_SIZE = 50


def _run_or_404(run_id: int) -> EvolutionRun:
    run = run_get(run_id)
    if run is None:
        raise Http404("No such evolution run")
    return run


def _strategy_or_404(key: str) -> Strategy:
    strategy = strategy_get(key)
    if strategy is None:
        raise Http404("No such strategy")
    return strategy


@require_GET
def run_list_page(request):
    status = request.GET.get("status") or None
    page = Paginator(run_list(status=status if status in EvolutionRun.Status.values else None),
                     PAGE_SIZE).get_page(request.GET.get("page"))
    runs = list(page.object_list)
    context = {"page": page, "runs": [(r, live_state(r)) for r in runs], "status": status or "",
               "statuses": EvolutionRun.Status.choices,
               "live_groups": ",".join(f"evolution.{pk}" for pk in unfinished_run_ids(runs))}
    template = "evolution/runs.html" + ("#runs-table" if request.htmx else "")
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def run_new(request):
    form = EvolutionRunForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            run = evolution_run_create(user=request.user, **form.service_kwargs())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.info(request, f"Evolution run #{run.pk} queued.")
            return redirect("evolution:run", run.pk)
    return render(request, "evolution/new.html", {"form": form, "seeds": describe_seeds()})


@require_GET
def run_detail(request, run_id: int):
    run = _run_or_404(run_id)
    template = "evolution/run.html" + ("#run-body" if request.htmx else "")
    return render(request, template, run_detail_context(run))


@require_POST
def run_stop(request, run_id: int):
    run = _run_or_404(run_id)
    try:
        evolution_run_stop(run=run, user=request.user)
        messages.info(request, f"Evolution run #{run.pk}: stop requested.")
    except (RunFinishedError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    return redirect("evolution:run", run.pk)


@require_POST
def run_resume(request, run_id: int):
    run = _run_or_404(run_id)
    try:
        evolution_resume(run=run, user=request.user)
        messages.info(request, f"Evolution run #{run.pk} resumes from generation "
                               f"{run.completed_generations}.")
    except (RunNotResumableError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    return redirect("evolution:run", run.pk)


@require_GET
def strategy_detail(request, key: str):
    strategy = _strategy_or_404(key)
    raw = request.GET.get("instrument", "")
    instrument_id = int(raw) if raw.isdigit() and len(raw) < 19 else None
    return render(request, "evolution/strategy.html",
                  strategy_detail_context(strategy, instrument_id))


@require_POST
def strategy_backtest(request, key: str):
    strategy = _strategy_or_404(key)
    try:
        session = strategy_open_as_backtest(strategy=strategy, user=request.user)
    except ValidationError as exc:
        messages.error(request, "Cannot open as a backtest: " + "; ".join(exc.messages))
        return redirect("evolution:strategy", strategy.identity)
    messages.info(request, f"Backtest #{session.pk} of {strategy.identity} queued.")
    return redirect("backtests:detail", session.pk)


@require_GET
def seeds_page(request):
    return render(request, "evolution/seeds.html", {"seeds": describe_seeds()})
