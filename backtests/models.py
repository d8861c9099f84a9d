"""Backtest sessions: what was asked, its status and progress, and its stored results.

Results are stored once, when the run completes (statistics, equity curve,
trades, time analysis, Monte Carlo, walk-forward, splits, overfitting
statistics, lookahead check, and for event-driven runs a summary of the
trading kernel's decisions), so a session reloads without recomputation. A failed run keeps its inputs and error message.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BacktestSession(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Kind(models.TextChoices):
        VECTORIZED = "vectorized", "Vectorised (vectorbt)"
        EVENT_DRIVEN = "event_driven", "Event-driven (trading engine replay)"

    FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)
    # Headline metrics copied from the statistics when a run completes (sortable columns).
    HEADLINE_METRICS = (
        "total_return", "annualized_return", "sharpe", "sortino", "max_drawdown", "win_rate",
        "profit_factor", "trade_count",
    )

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.VECTORIZED)
    strategy = models.CharField(max_length=100, help_text="Registered strategy or seed name")
    params = models.JSONField(default=dict, blank=True)
    instruments = models.ManyToManyField("trading.Instrument", related_name="backtest_sessions")
    timeframe = models.CharField(max_length=4, default="1h")
    start = models.DateTimeField()
    end = models.DateTimeField()
    initial_cash = models.FloatField(default=10_000.0)
    costs = models.JSONField(default=dict, blank=True, help_text="maker_fee, taker_fee, slippage")
    sizing = models.JSONField(default=dict, blank=True, help_text="mode and value")
    options = models.JSONField(
        default=dict, blank=True, help_text="allow_short, monte_carlo_paths, walk_forward settings"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    progress = models.FloatField(default=0.0, help_text="Fraction done, 0..1")
    progress_message = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Headline metrics copied out of the results, for sorting the list.
    total_return = models.FloatField(null=True, blank=True)
    annualized_return = models.FloatField(null=True, blank=True)
    sharpe = models.FloatField(null=True, blank=True)
    sortino = models.FloatField(null=True, blank=True)
    max_drawdown = models.FloatField(null=True, blank=True)
    win_rate = models.FloatField(null=True, blank=True)
    profit_factor = models.FloatField(null=True, blank=True)
    trade_count = models.IntegerField(null=True, blank=True)
    lookahead_passed = models.BooleanField(null=True, blank=True)
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(start__lt=models.F("end")),
                                   name="backtest_start_before_end"),
            models.CheckConstraint(condition=models.Q(progress__gte=0, progress__lte=1),
                                   name="backtest_progress_fraction"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class BacktestResult(models.Model):
    """The stored output of a completed session (one row; large JSON kept apart from the list)."""

    session = models.OneToOneField(BacktestSession, on_delete=models.CASCADE, related_name="result")
    statistics = models.JSONField(default=dict)
    equity = models.JSONField(default=dict, help_text="timestamps, equity, benchmark, drawdown")
    trades = models.JSONField(default=list)
    time_analysis = models.JSONField(default=dict)
    monte_carlo = models.JSONField(default=dict)
    walk_forward = models.JSONField(default=dict)
    splits = models.JSONField(default=dict, help_text="in-sample / out-of-sample / walk-forward")
    overfitting = models.JSONField(default=dict, help_text="deflated Sharpe and PBO of the search")
    lookahead = models.JSONField(default=dict)
    kernel_summary = models.JSONField(
        default=dict, blank=True,
        help_text="event-driven runs: the engine, its agents, and counts of the trading "
                  "kernel's decisions, skips by reason, breaker trips, orders and fills",
    )
    duration_ms = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"result of {self.session}"
