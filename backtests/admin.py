"""Admin for backtest sessions: browse, filter, sort by headline metrics, re-run; results
are read-only records of what a run computed."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from backtests.models import BacktestResult, BacktestSession
from backtests.services import backtest_rerun


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


class BacktestResultInline(admin.StackedInline):
    model = BacktestResult
    can_delete = False
    extra = 0
    fields = ["duration_ms", "created_at", "statistics", "lookahead"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BacktestSession)
class BacktestSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "strategy", "timeframe", "status", "progress_pct",
                    "return_pct", "sharpe", "drawdown_pct", "trade_count", "lookahead_passed",
                    "created_by", "created_at", "page_link"]
    list_display_links = ["id", "name"]
    list_filter = ["status", "strategy", "kind", "timeframe", "lookahead_passed", "created_at"]
    search_fields = ["name", "description", "strategy", "error_message"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    list_select_related = ["created_by"]
    actions = ["rerun_selected"]
    inlines = [BacktestResultInline]
    fieldsets = [
        (None, {"fields": ["name", "description", "kind", "strategy", "params"]}),
        ("Market", {"fields": ["instruments", "timeframe", "start", "end"]}),
        ("Capital and costs", {"fields": ["initial_cash", "costs", "sizing", "options"]}),
        ("Run", {"fields": ["status", "progress", "progress_message", "cancel_requested",
                            "error_message", "created_by", "created_at", "started_at",
                            "finished_at", "rerun_of"]}),
        ("Headline metrics", {"fields": [*BacktestSession.HEADLINE_METRICS,
                                         "lookahead_passed"]}),
    ]

    def has_add_permission(self, request):
        # Sessions start from the page, the API or backtest_run, which validate and enqueue.
        return False

    def has_change_permission(self, request, obj=None):
        # Inputs of a run are history: change them by re-running, never in place.
        return False

    @admin.display(description="progress", ordering="progress")
    def progress_pct(self, obj: BacktestSession) -> str:
        return f"{100 * obj.progress:.0f}%"

    @admin.display(description="return", ordering="total_return")
    def return_pct(self, obj: BacktestSession) -> str:
        return _pct(obj.total_return)

    @admin.display(description="max DD", ordering="max_drawdown")
    def drawdown_pct(self, obj: BacktestSession) -> str:
        return _pct(obj.max_drawdown)

    @admin.display(description="page")
    def page_link(self, obj: BacktestSession) -> str:
        return format_html('<a href="{}">open</a>', reverse("backtests:detail", args=[obj.pk]))

    @admin.action(description="Re-run selected backtests (new sessions, same inputs)")
    def rerun_selected(self, request, queryset):
        started, refused = [], []
        for session in queryset.order_by("pk"):
            try:
                started.append(backtest_rerun(session=session, user=request.user).pk)
            except ValidationError as exc:
                refused.append(f"#{session.pk}: {'; '.join(exc.messages)}")
        if started:
            self.message_user(request, f"Started {len(started)} re-runs: "
                              + ", ".join(f"#{pk}" for pk in started), messages.SUCCESS)
        for message in refused:
            self.message_user(request, f"Not re-run {message}", messages.ERROR)


@admin.register(BacktestResult)
class BacktestResultAdmin(admin.ModelAdmin):
    list_display = ["id", "session", "duration_ms", "created_at"]
    list_select_related = ["session"]
    search_fields = ["session__name"]
    readonly_fields = ["session", "duration_ms", "created_at", "statistics", "equity",
                       "time_analysis", "monte_carlo", "walk_forward", "splits", "overfitting",
                       "lookahead", "kernel_summary"]
    exclude = ["trades"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
