"""Admin for trading sessions, exchange accounts, parameter sets and the journal.

Every change goes through the services: sessions are controlled with admin
actions (start, pause, stop, emergency stop); exchange-account keys are
write-only password fields, encrypted by the service and never rendered back;
saving a parameter set that a session used creates its next version. Journal
records (orders, fills, trades, decisions, alerts) are read-only.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from trading.models import (
    DecisionRecord,
    ExchangeAccount,
    FillRecord,
    OrderRecord,
    ParameterSet,
    SessionAlert,
    TradeRecord,
    TradingSession,
    ms_to_datetime,
)
from trading.services import sessions as session_services
from trading.services.accounts import exchange_account_create, exchange_account_keys_set
from trading.services.parameter_sets import parameter_set_create, parameter_set_revise
from trading.session_config import parameter_values_errors


def _utc(ms: int | None) -> str:
    return "-" if ms is None else f"{ms_to_datetime(ms):%Y-%m-%d %H:%M} UTC"


class JournalAdmin(admin.ModelAdmin):
    """Journal rows are written by the loop only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _session_action(name: str, label: str):
    def action(modeladmin, request, queryset):
        service = getattr(session_services, f"session_{name}")
        for session in queryset:
            try:
                service(session=session, user=request.user)
            except ValidationError as exc:
                modeladmin.message_user(request, f"{session}: {'; '.join(exc.messages)}",
                                        messages.ERROR)
            else:
                modeladmin.message_user(request, f"{session}: {label.lower()}")

    action.__name__ = f"session_{name}_action"
    return admin.action(description=label)(action)


@admin.register(TradingSession)
class TradingSessionAdmin(admin.ModelAdmin):
    list_display = ["name", "mode", "status", "risk_profile", "capital", "equity", "drawdown",
                    "open_positions", "heartbeat_at", "steps", "is_demo"]
    list_filter = ["status", "mode", "risk_profile", "source", "is_demo"]
    search_fields = ["name"]
    actions = [_session_action("start", "Start / resume"), _session_action("pause", "Pause"),
               _session_action("stop", "Stop"),
               _session_action("emergency_stop", "Emergency stop (flatten and halt)")]
    fields = ["name", "cadence_seconds", "candles_per_step", "mode", "source", "status",
              "status_reason", "pending_command", "exchange_account", "parameter_set",
              "timeframe", "capital", "risk_profile", "replay_start", "agents_enabled",
              "agent_weights", "overrides", "equity", "realized_pnl", "drawdown",
              "open_positions", "last_candle", "heartbeat_at", "claimed_by", "lease_until",
              "next_step_at", "checkpoint_seq", "checkpoint_at", "steps", "last_error",
              "created_by", "created_at", "started_at", "stopped_at"]
    readonly_fields = [f for f in fields if f not in ("name", "cadence_seconds",
                                                      "candles_per_step")]

    def has_add_permission(self, request):
        return False  # created on the Trading page or the API (live needs a confirmation)

    @admin.display(description="Replay from")
    def replay_start(self, obj: TradingSession) -> str:
        return _utc(obj.replay_start_ms)

    @admin.display(description="Last candle")
    def last_candle(self, obj: TradingSession) -> str:
        return _utc(obj.last_candle_ms)

    def save_model(self, request, obj, form, change):
        session_services.session_update(
            session=obj, name=obj.name, cadence_seconds=obj.cadence_seconds,
            candles_per_step=obj.candles_per_step, user=request.user)


class ExchangeAccountForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False, strip=True, widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: stored encrypted, never shown again. Leave empty to keep.")
    api_secret = forms.CharField(
        required=False, strip=True, widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: stored encrypted, never shown again. Leave empty to keep.")

    class Meta:
        model = ExchangeAccount
        fields = ["exchange", "label", "sandbox"]

    def clean(self):
        cleaned = super().clean()
        key, secret = cleaned.get("api_key"), cleaned.get("api_secret")
        if (key or secret or not self.instance.pk) and not (key and secret):
            raise ValidationError("Enter both the API key and the secret.")
        return cleaned


@admin.register(ExchangeAccount)
class ExchangeAccountAdmin(admin.ModelAdmin):
    form = ExchangeAccountForm
    list_display = ["label", "exchange", "sandbox", "keys", "key_fingerprint", "keys_updated_at"]
    readonly_fields = ["key_fingerprint", "keys_updated_at", "created_by", "created_at"]

    @admin.display(description="Keys", boolean=True)
    def keys(self, obj: ExchangeAccount) -> bool:
        return obj.has_keys

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = exchange_account_create(
                exchange=data["exchange"], label=data["label"], api_key=data["api_key"],
                api_secret=data["api_secret"], sandbox=data["sandbox"], user=request.user)
            obj.pk, obj.id = created.pk, created.pk
            return
        ExchangeAccount.objects.filter(pk=obj.pk).update(
            exchange=data["exchange"], label=data["label"], sandbox=data["sandbox"])
        if data.get("api_key"):
            exchange_account_keys_set(account=obj, api_key=data["api_key"],
                                      api_secret=data["api_secret"], user=request.user)


class ParameterSetForm(forms.ModelForm):
    values = forms.JSONField(initial=dict, widget=forms.Textarea(attrs={"rows": 16, "cols": 90}))
    tags = forms.JSONField(initial=list, required=False)

    class Meta:
        model = ParameterSet
        fields = ["name", "values", "tags", "notes"]

    def clean_values(self):
        values = self.cleaned_data.get("values")
        errors = parameter_values_errors(values)
        if errors:
            raise ValidationError([f"{k}: {v}" for k, v in errors.items()])
        return values


@admin.register(ParameterSet)
class ParameterSetAdmin(admin.ModelAdmin):
    form = ParameterSetForm
    list_display = ["name", "version", "parent", "tag_list", "created_by", "created_at"]
    list_filter = ["name"]
    search_fields = ["name", "notes"]
    readonly_fields = ["version", "parent", "created_by", "created_at"]

    @admin.display(description="Tags")
    def tag_list(self, obj: ParameterSet) -> str:
        return ", ".join(obj.tags)

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "name"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                saved = parameter_set_revise(parameter_set=obj, values=data["values"],
                                             tags=data.get("tags") or [], notes=data["notes"],
                                             user=request.user)
            else:
                saved = parameter_set_create(name=data["name"], values=data["values"],
                                             tags=data.get("tags") or [], notes=data["notes"],
                                             user=request.user)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        if change and saved.pk != obj.pk:
            self.message_user(request, f"{obj} is used by a session: saved as {saved}.")
        obj.pk, obj.id, obj.version = saved.pk, saved.pk, saved.version


@admin.register(OrderRecord)
class OrderRecordAdmin(JournalAdmin):
    list_display = ["client_order_id", "session", "symbol", "side", "purpose", "quantity",
                    "filled_quantity", "status", "created"]
    list_filter = ["status", "side", "purpose", "session"]
    search_fields = ["client_order_id", "exchange_order_id"]

    @admin.display(description="Created", ordering="created_ms")
    def created(self, obj: OrderRecord) -> str:
        return _utc(obj.created_ms)


@admin.register(FillRecord)
class FillRecordAdmin(JournalAdmin):
    list_display = ["fill_id", "session", "symbol", "side", "quantity", "price", "fee",
                    "liquidity"]
    list_filter = ["session", "side", "liquidity"]


@admin.register(TradeRecord)
class TradeRecordAdmin(JournalAdmin):
    list_display = ["session", "symbol", "closed", "net_pnl", "net_return", "outcome",
                    "exit_reason"]
    list_filter = ["outcome", "exit_reason", "session"]
    readonly_fields = ["entry_context_pretty"]

    @admin.display(description="Closed", ordering="closed_ms")
    def closed(self, obj: TradeRecord) -> str:
        return _utc(obj.closed_ms)

    @admin.display(description="Entry context")
    def entry_context_pretty(self, obj: TradeRecord) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.entry_context, indent=2))


@admin.register(DecisionRecord)
class DecisionRecordAdmin(JournalAdmin):
    list_display = ["session", "symbol", "at", "action", "confidence"]
    list_filter = ["action", "session"]


@admin.register(SessionAlert)
class SessionAlertAdmin(JournalAdmin):
    list_display = ["session", "at", "kind", "level", "action", "message"]
    list_filter = ["kind", "level", "session"]
