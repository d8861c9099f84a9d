"""Admin for evolution: runs (browse, stop/resume actions), strategies (lifecycle editable),
and the read-only records a run writes (generation statistics, trials)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html

from evolution.models import EvolutionRun, GenerationStat, Strategy, Trial
from evolution.services import (
    RunFinishedError,
    RunNotResumableError,
    evolution_resume,
    evolution_run_stop,
    strategy_status_set,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Browse only: these rows are written by the run, never by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class GenerationStatInline(admin.TabularInline):
    model = GenerationStat
    fields = ["generation", "best_combined", "median_combined", "unique_ratio", "failed",
              "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(EvolutionRun)
class EvolutionRunAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "status", "progress_percent", "population", "generations",
                    "completed_generations", "best_combined", "deflated_sharpe", "pbo",
                    "created_at"]
    list_filter = ["status", "timeframe", "executor"]
    search_fields = ["name"]
    readonly_fields = [f.name for f in EvolutionRun._meta.fields
                       if f.name not in ("name", "checkpoint")]
    exclude = ["instruments", "checkpoint"]  # the engine checkpoint is large and internal
    inlines = [GenerationStatInline]
    actions = ["stop_runs", "resume_runs"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("checkpoint")

    def has_add_permission(self, request):
        return False  # runs are started from the Evolution page, the API or `manage.py evolve`

    @admin.display(description="Progress")
    def progress_percent(self, obj: EvolutionRun) -> str:
        return f"{100 * obj.progress:.0f}%"

    @admin.action(description="Stop the selected runs")
    def stop_runs(self, request, queryset):
        for run in queryset:
            try:
                evolution_run_stop(run=run, user=request.user)
            except RunFinishedError as exc:
                self.message_user(request, str(exc), messages.WARNING)

    @admin.action(description="Resume the selected runs from their last generation")
    def resume_runs(self, request, queryset):
        for run in queryset:
            try:
                evolution_resume(run=run, user=request.user)
            except RunNotResumableError as exc:
                self.message_user(request, str(exc), messages.WARNING)


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    list_display = ["identity", "status", "combined", "sharpe", "generation", "run_link",
                    "lookahead_passed", "validated_at", "created_at"]
    list_filter = ["status", "lookahead_passed", "seed_or_combo"]
    search_fields = ["identity", "genes_hash", "description"]
    list_editable = ["status"]
    fields = ["identity", "status", "description", "seed_or_combo", "genes_hash", "generation",
              "run", "parents", "objectives", "combined", "sharpe", "assets", "metrics",
              "lookahead", "lookahead_passed", "validated_at", "created_at", "genome"]
    readonly_fields = [f for f in fields if f != "status"]

    def has_add_permission(self, request):
        return False  # strategies are born in evolution runs

    @admin.display(description="Run")
    def run_link(self, obj: Strategy) -> str:
        return format_html('<a href="/evolution/{}/">#{}</a>', obj.run_id, obj.run_id) \
            if obj.run_id else "-"

    def save_model(self, request, obj, form, change):
        if change and "status" in form.changed_data:
            strategy_status_set(strategy=Strategy.objects.get(pk=obj.pk), status=obj.status,
                                user=request.user)
        else:
            super().save_model(request, obj, form, change)


@admin.register(Trial)
class TrialAdmin(ReadOnlyAdmin):
    list_display = ["run", "generation", "position", "identity", "combined", "reason"]
    list_filter = ["generation"]
    search_fields = ["identity", "genes_hash", "reason"]
    list_select_related = ["run"]
    exclude = ["period_returns"]


@admin.register(GenerationStat)
class GenerationStatAdmin(ReadOnlyAdmin):
    list_display = ["run", "generation", "best_combined", "median_combined", "unique_ratio",
                    "mean_distance", "failed", "evaluated", "duration_ms"]
    list_select_related = ["run"]
