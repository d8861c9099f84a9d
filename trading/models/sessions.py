"""Trading sessions: what runs, on which market, with what money, and where it stands.

A session is processed by one worker at a time: a worker claims it by setting
`claimed_by` / `lease_until` with a conditional UPDATE, restores the kernel
from `checkpoint`, processes the next candles, and writes the journal and the
new checkpoint in one transaction (`checkpoint_seq` counts those commits, so a
worker whose view is stale cannot overwrite a newer one). `heartbeat_at` is
refreshed at every commit; the page shows its age as the session's health.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from trading.models.accounts import ExchangeAccount
from trading.models.market_data import Instrument
from trading.models.parameters import ParameterSet


class TradingSession(models.Model):
    class Mode(models.TextChoices):
        PAPER = "paper", "Paper"
        LIVE = "live", "Live"

    class Status(models.TextChoices):
        STOPPED = "stopped", "Stopped"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        HALTED = "halted", "Halted"

    class Source(models.TextChoices):
        REPLAY = "replay", "Replay of stored candles"
        MARKET = "market", "Market (exchange polling)"

    class Tolerance(models.TextChoices):
        CONSERVATIVE = "conservative", "Conservative"
        MODERATE = "moderate", "Moderate"
        AGGRESSIVE = "aggressive", "Aggressive"

    class Command(models.TextChoices):
        NONE = "", "None"
        PAUSE = "pause", "Pause"
        RESUME = "resume", "Resume"
        EMERGENCY_STOP = "emergency_stop", "Emergency stop"

    name = models.CharField(max_length=120)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.PAPER)
    exchange_account = models.ForeignKey(
        ExchangeAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    instruments = models.ManyToManyField(Instrument, related_name="trading_sessions")
    timeframe = models.CharField(max_length=4, default="1h")
    capital = models.DecimalField(max_digits=20, decimal_places=8)
    risk_profile = models.CharField(
        max_length=12, choices=Tolerance.choices, default=Tolerance.MODERATE
    )
    parameter_set = models.ForeignKey(
        ParameterSet, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    agents_enabled = models.JSONField(
        default=list, blank=True, help_text="Agent names that vote; empty: every agent"
    )
    agent_weights = models.JSONField(default=dict, blank=True, help_text="Base weight per agent")
    overrides = models.JSONField(
        default=dict, blank=True, help_text="Risk-profile fields set by the operator"
    )
    config = models.JSONField(
        default=dict, blank=True, help_text="The resolved settings the kernel runs with"
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.REPLAY)
    replay_start_ms = models.BigIntegerField(
        null=True, blank=True, help_text="Replay: open time of the first candle to trade (ms)"
    )
    cadence_seconds = models.FloatField(
        default=60.0, help_text="Base seconds between steps (replay: per batch of candles)"
    )
    candles_per_step = models.PositiveIntegerField(default=1)
    is_demo = models.BooleanField(default=False)

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.STOPPED)
    status_reason = models.CharField(max_length=300, blank=True)
    pending_command = models.CharField(
        max_length=16, choices=Command.choices, default=Command.NONE, blank=True
    )
    pending_agents = models.JSONField(
        null=True, blank=True,
        help_text="Agent weights/enabled set by the operator, applied by the next step",
    )
    checkpoint = models.JSONField(null=True, blank=True, editable=False)
    checkpoint_at = models.DateTimeField(null=True, blank=True)
    checkpoint_seq = models.PositiveIntegerField(default=0)
    last_candle_ms = models.BigIntegerField(
        null=True, blank=True, help_text="Open time of the last processed candle (ms)"
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_step_at = models.DateTimeField(null=True, blank=True)
    steps = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    errors_in_a_row = models.PositiveIntegerField(default=0)

    equity = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    realized_pnl = models.DecimalField(max_digits=24, decimal_places=8, default=0)
    drawdown = models.FloatField(default=0.0)
    open_positions = models.PositiveIntegerField(default=0)
    last_prices = models.JSONField(default=dict, blank=True)
    grid_state = models.JSONField(
        default=dict, blank=True,
        help_text="Per symbol, the grid's levels and orders at the last step (grid sessions)")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(mode="paper") | Q(exchange_account__isnull=False),
                name="live_session_has_account",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_step_at"], name="session_due_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        """The loop keeps stepping it (running, paused, or halted while flattening)."""
        return self.status != self.Status.STOPPED

    @property
    def pnl(self):
        return None if self.equity is None else self.equity - self.capital

    @property
    def pnl_fraction(self) -> float | None:
        return None if self.equity is None else float(self.equity / self.capital - 1)

    def heartbeat_age(self, now=None) -> timedelta | None:
        if self.heartbeat_at is None:
            return None
        return (now or timezone.now()) - self.heartbeat_at

    @property
    def health(self) -> str:
        """ok / late / stale / idle, from the heartbeat's age against the cadence."""
        if self.status == self.Status.STOPPED:
            return "idle"
        age = self.heartbeat_age()
        if age is None:
            return "late"
        expected = self.cadence_seconds
        if age.total_seconds() <= max(30.0, 5 * expected):
            return "ok"
        return "late" if age.total_seconds() <= max(300.0, 20 * expected) else "stale"
