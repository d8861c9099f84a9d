"""The trading journal: everything a session did, written once per engine event.

Every row is keyed by what the engine event identifies (client order id, fill
id, the candle time of a decision, the open time of a trade...), and unique
constraints enforce it, so writing a replayed candle's events again after a
crash changes nothing: the journal of a resumed session equals the journal of
an uninterrupted one. Times are epoch milliseconds (UTC) like the engine's.
"""

from __future__ import annotations

from django.db import models

from trading.models.market_data import ms_to_datetime
from trading.models.sessions import TradingSession

MONEY = {"max_digits": 30, "decimal_places": 12}


class OrderRecord(models.Model):
    """An order and its whole status history (creation, submission, fills, end)."""

    session = models.ForeignKey(TradingSession, on_delete=models.CASCADE, related_name="orders")
    client_order_id = models.CharField(max_length=40, unique=True)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4)
    order_type = models.CharField(max_length=12)
    purpose = models.CharField(max_length=16, blank=True, help_text="entry, exit, take_profit")
    tag = models.CharField(max_length=40, blank=True)
    quantity = models.DecimalField(**MONEY)
    filled_quantity = models.DecimalField(default=0, **MONEY)
    limit_price = models.DecimalField(null=True, blank=True, **MONEY)
    reference_price = models.FloatField(
        null=True, blank=True, help_text="The price it was placed at (slippage is measured from it)"
    )
    status = models.CharField(max_length=10)
    reason = models.CharField(max_length=300, blank=True, help_text="Reason of the last change")
    history = models.JSONField(default=list, help_text="[[ts_ms, from, to, reason], ...]")
    exchange_order_id = models.CharField(max_length=100, blank=True)
    intent = models.JSONField(
        null=True, blank=True,
        help_text="Live: the order as written BEFORE it was sent, so a restart after a crash "
        "looks it up at the exchange instead of sending it twice")
    created_ms = models.BigIntegerField()
    updated_ms = models.BigIntegerField()

    class Meta:
        ordering = ["-created_ms", "-id"]
        indexes = [models.Index(fields=["session", "status"], name="order_session_status_idx")]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.side} {self.quantity} {self.symbol} {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status in ("PENDING", "SUBMITTED", "PARTIAL")


class FillRecord(models.Model):
    session = models.ForeignKey(TradingSession, on_delete=models.CASCADE, related_name="fills")
    order = models.ForeignKey(
        OrderRecord, to_field="client_order_id", db_column="client_order_id",
        on_delete=models.CASCADE, related_name="fills",
    )
    fill_id = models.CharField(max_length=120)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4)
    quantity = models.DecimalField(**MONEY)
    price = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY)
    liquidity = models.CharField(max_length=6)
    ts_ms = models.BigIntegerField()

    class Meta:
        ordering = ["-ts_ms", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "fill_id"], name="uniq_fill_per_order"),
        ]

    def __str__(self) -> str:
        return f"{self.fill_id}: {self.side} {self.quantity} @ {self.price}"


class PositionRecord(models.Model):
    """A symbol's position as of the session's last commit, marked to the last price."""

    session = models.ForeignKey(TradingSession, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=40)
    quantity = models.DecimalField(default=0, **MONEY)
    average_entry = models.DecimalField(null=True, blank=True, **MONEY)
    mark_price = models.FloatField(null=True, blank=True)
    unrealized_pnl = models.DecimalField(default=0, **MONEY)
    realized_pnl = models.DecimalField(default=0, **MONEY)
    fees = models.DecimalField(default=0, **MONEY)
    opened_ms = models.BigIntegerField(null=True, blank=True)
    updated_ms = models.BigIntegerField()

    class Meta:
        ordering = ["session_id", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["session", "symbol"], name="uniq_position"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.quantity}"

    @property
    def is_open(self) -> bool:
        return self.quantity != 0

    @property
    def unrealized_fraction(self) -> float | None:
        if not self.quantity or not self.average_entry:
            return None
        return float(self.unrealized_pnl / (self.quantity * self.average_entry))


class DecisionRecord(models.Model):
    """One decision at a closed candle, including a decision not to trade."""

    session = models.ForeignKey(TradingSession, on_delete=models.CASCADE, related_name="decisions")
    symbol = models.CharField(max_length=40)
    ts_ms = models.BigIntegerField()
    action = models.CharField(max_length=16)
    confidence = models.FloatField()
    reasoning = models.TextField(blank=True)
    details = models.JSONField(default=dict, help_text="The decision and the agents' vote")

    class Meta:
        ordering = ["-ts_ms", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "symbol", "ts_ms", "action"], name="uniq_decision"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.action} {self.confidence:.2f}"

    @property
    def at(self):
        return ms_to_datetime(self.ts_ms)


class TradeRecord(models.Model):
    """A closed round trip: why it was entered (entry context) and how it turned out."""

    class Outcome(models.TextChoices):
        BIG_WIN = "big_win", "Big win"
        WIN = "win", "Win"
        BREAKEVEN = "breakeven", "Breakeven"
        LOSS = "loss", "Loss"
        BIG_LOSS = "big_loss", "Big loss"

    session = models.ForeignKey(TradingSession, on_delete=models.CASCADE, related_name="trades")
    symbol = models.CharField(max_length=40)
    direction = models.CharField(max_length=5)
    opened_ms = models.BigIntegerField()
    closed_ms = models.BigIntegerField()
    quantity = models.DecimalField(**MONEY)
    entry_price = models.DecimalField(**MONEY)
    exit_price = models.DecimalField(**MONEY)
    realized_pnl = models.DecimalField(help_text="Gross", **MONEY)
    fees = models.DecimalField(**MONEY)
    net_pnl = models.DecimalField(**MONEY)
    net_return = models.FloatField()
    hold_ms = models.BigIntegerField()
    max_adverse_excursion = models.FloatField()
    max_favourable_excursion = models.FloatField()
    best_exit_price = models.FloatField()
    best_exit_ms = models.BigIntegerField()
    efficiency = models.FloatField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    exit_reason = models.CharField(max_length=40, blank=True)
    entry_context = models.JSONField(default=dict)

    class Meta:
        ordering = ["-closed_ms", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "symbol", "opened_ms"], name="uniq_trade"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.direction} {self.net_pnl:+.2f} ({self.outcome})"

    @property
    def opened_at(self):
        return ms_to_datetime(self.opened_ms)

    @property
    def closed_at(self):
        return ms_to_datetime(self.closed_ms)


class TrailingRecord(models.Model):
    """A trailing order's life: created, fired (its trigger), expired or cancelled."""

    session = models.ForeignKey(TradingSession, on_delete=models.CASCADE, related_name="trailing")
    symbol = models.CharField(max_length=40)
    ts_ms = models.BigIntegerField()
    side = models.CharField(max_length=4)
    status = models.CharField(max_length=12)
    purpose = models.CharField(max_length=16)
    quantity = models.DecimalField(**MONEY)
    trail = models.FloatField()
    best_price = models.FloatField(null=True, blank=True)
    trigger_price = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-ts_ms", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "symbol", "ts_ms", "purpose", "status"], name="uniq_trailing"
            ),
        ]

    def __str__(self) -> str:
        return f"trailing {self.side} {self.symbol} {self.status}"


class SessionAlert(models.Model):
    """Circuit breakers, rejected data, operator commands and errors, newest first."""

    class Kind(models.TextChoices):
        BREAKER = "breaker", "Circuit breaker"
        DATA = "data", "Rejected data"
        OPERATOR = "operator", "Operator"
        SYSTEM = "system", "System"

    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    session = models.ForeignKey(TradingSession, on_delete=models.CASCADE, related_name="alerts")
    key = models.CharField(max_length=200, help_text="What makes it unique within the session")
    ts_ms = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    level = models.CharField(max_length=8, choices=Level.choices)
    breaker = models.CharField(max_length=40, blank=True)
    action = models.CharField(max_length=12, blank=True)
    message = models.TextField()
    value = models.FloatField(null=True, blank=True)
    limit = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ts_ms", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "key"], name="uniq_session_alert"),
        ]

    def __str__(self) -> str:
        return f"{self.level}: {self.message[:60]}"

    @property
    def at(self):
        return ms_to_datetime(self.ts_ms)


class EquitySnapshot(models.Model):
    """The account marked at a candle close."""

    session = models.ForeignKey(TradingSession, on_delete=models.CASCADE, related_name="equity_snapshots")
    ts_ms = models.BigIntegerField()
    equity = models.DecimalField(**MONEY)
    cash = models.DecimalField(**MONEY)
    exposure = models.DecimalField(**MONEY)
    realized_pnl = models.DecimalField(**MONEY)
    fees = models.DecimalField(**MONEY)
    drawdown = models.FloatField()
    state = models.CharField(max_length=8)

    class Meta:
        ordering = ["session_id", "ts_ms"]
        constraints = [
            models.UniqueConstraint(fields=["session", "ts_ms"], name="uniq_equity_snapshot"),
        ]

    def __str__(self) -> str:
        return f"{ms_to_datetime(self.ts_ms):%Y-%m-%d %H:%M} {self.equity}"


class FailedOrderRecord(models.Model):
    """An order whose submission finally failed (live): kept for the recovery pass."""

    session = models.ForeignKey(
        TradingSession, on_delete=models.CASCADE, related_name="failed_orders"
    )
    client_order_id = models.CharField(max_length=40)
    order = models.JSONField()
    reason = models.TextField()
    error_type = models.CharField(max_length=12)
    attempts = models.PositiveIntegerField(default=0)
    failed_ms = models.BigIntegerField()

    class Meta:
        ordering = ["failed_ms", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "client_order_id"], name="uniq_failed_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_order_id} ({self.error_type}: {self.reason[:40]})"
