"""Forms of the trading pages: a new session, agent weights, parameter sets.

A new session needs only symbol(s), capital and risk tolerance; everything
else is derived when it starts and can be overridden in the "advanced"
fields. Live mode asks for the word LIVE typed in, the explicit confirmation
the service requires. `add_service_errors` puts a service `ValidationError`
back on the right fields.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from trading.engine.market import TIMEFRAME_MS
from trading.models import ExchangeAccount, Instrument, ParameterSet, TradeRecord, TradingSession
from trading.services.sessions import LIVE_CONFIRMATION
from trading.session_config import AGENT_NAMES


def _json_object(raw: str, label: str) -> dict[str, Any]:
    raw = (raw or "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{label} must be JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(value, dict):
        raise ValidationError(f"{label} must be a JSON object")
    return value


class ServiceErrorsMixin:
    def add_service_errors(self, exc: ValidationError) -> None:
        """Attach a service's field errors to matching fields, the rest to the form."""
        form: forms.Form = self  # type: ignore[assignment]
        if not hasattr(exc, "error_dict"):
            form.add_error(None, exc)
            return
        for key, errors in exc.message_dict.items():
            field = key.split(".")[0]
            field = {"agent_weights": "overrides", "exchange_account": "exchange_account"}.get(
                field, field)
            message = "; ".join(errors)
            if field in form.fields and field not in form.errors:
                form.add_error(field, f"{key}: {message}" if "." in key else message)
            else:
                form.add_error(None, f"{key}: {message}")


class SessionForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=120, initial="Paper session")
    instruments = forms.ModelMultipleChoiceField(
        queryset=Instrument.objects.filter(active=True).select_related("exchange"),
        help_text="One or more symbols of one exchange")
    capital = forms.DecimalField(min_value=1, max_digits=20, decimal_places=2, initial=10_000)
    risk_profile = forms.ChoiceField(choices=TradingSession.Tolerance.choices,
                                     initial=TradingSession.Tolerance.MODERATE,
                                     label="Risk tolerance")
    # advanced: derived when left empty
    timeframe = forms.ChoiceField(choices=[(t, t) for t in TIMEFRAME_MS], initial="1h")
    mode = forms.ChoiceField(choices=TradingSession.Mode.choices, initial="paper")
    exchange_account = forms.ModelChoiceField(
        queryset=ExchangeAccount.objects.select_related("exchange"), required=False,
        help_text="Live only: the account whose keys send the orders")
    confirm_live = forms.CharField(
        required=False, label="Type LIVE to trade real money",
        help_text="Live orders use real funds; paper sessions need nothing here")
    source = forms.ChoiceField(choices=TradingSession.Source.choices, required=False,
                               help_text="Replay stored candles, or poll the exchange")
    replay_start = forms.DateTimeField(
        required=False, label="Replay from (UTC)",
        help_text="Empty: 30 days before the last stored candle",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    cadence_seconds = forms.FloatField(
        required=False, min_value=0.2, max_value=86_400,
        help_text="Seconds between steps (empty: 2 s for replays, 30 s for the market)")
    candles_per_step = forms.IntegerField(min_value=1, max_value=10_000, initial=1)
    parameter_set = forms.ModelChoiceField(queryset=ParameterSet.objects.all(), required=False)
    overrides = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
        help_text='Risk-profile overrides as JSON, e.g. {"max_drawdown": 0.1}')

    def clean_overrides(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data.get("overrides", ""), "overrides")

    def clean_confirm_live(self) -> bool:
        return (self.cleaned_data.get("confirm_live") or "").strip() == LIVE_CONFIRMATION

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        start = data.get("replay_start")
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        return {
            "name": data["name"], "instruments": list(data["instruments"]),
            "capital": data["capital"], "risk_profile": data["risk_profile"],
            "timeframe": data["timeframe"], "mode": data["mode"],
            "exchange_account": data.get("exchange_account"),
            "confirm_live": data.get("confirm_live", False),
            "source": data.get("source") or None,
            "replay_start_ms": None if start is None else int(start.timestamp() * 1000),
            "cadence_seconds": data.get("cadence_seconds"),
            "candles_per_step": data.get("candles_per_step") or 1,
            "parameter_set": data.get("parameter_set"), "overrides": data.get("overrides") or {},
        }


class AgentWeightsForm(forms.Form):
    """One weight and one "enabled" box per agent."""

    def __init__(self, *args: Any, agents: list[dict[str, Any]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for agent in agents or [{"name": n, "weight": 1.0, "enabled": True} for n in AGENT_NAMES]:
            name = agent["name"]
            self.fields[f"weight_{name}"] = forms.FloatField(
                min_value=0, max_value=100, initial=agent["weight"], label=name,
                widget=forms.NumberInput(attrs={"step": "0.1", "class": "weight"}))
            self.fields[f"enabled_{name}"] = forms.BooleanField(
                required=False, initial=agent["enabled"], label="on")

    def agent_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"weight_{n}"], self[f"enabled_{n}"]) for n in AGENT_NAMES
                if f"weight_{n}" in self.fields]

    def weights(self) -> dict[str, float]:
        return {n: self.cleaned_data[f"weight_{n}"] for n in AGENT_NAMES
                if f"weight_{n}" in self.cleaned_data}

    def enabled(self) -> list[str]:
        return [n for n in AGENT_NAMES if self.cleaned_data.get(f"enabled_{n}")]


class ParameterSetForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=100)
    values = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "class": "mono"}), initial="{}",
        help_text='Sections: "risk", "agents", "weights", "kernel", "costs" (see the docs)')
    tags = forms.CharField(required=False, help_text="Comma-separated")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_values(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data.get("values", ""), "values")

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in (self.cleaned_data.get("tags") or "").split(",") if t.strip()]


class JournalFilterForm(forms.Form):
    symbol = forms.CharField(required=False)
    outcome = forms.ChoiceField(required=False,
                                choices=[("", "any outcome"), *TradeRecord.Outcome.choices])
    exit_reason = forms.CharField(required=False, label="Exit reason")
    since = forms.DateField(required=False, label="Closed from",
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="Closed before",
                            widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of `trade_list` (empty when the form is invalid)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "symbol": data.get("symbol") or None, "outcome": data.get("outcome") or None,
            "exit_reason": data.get("exit_reason") or None,
            "since_ms": _day_ms(data.get("since")), "until_ms": _day_ms(data.get("until")),
        }


def _day_ms(day: date | None) -> int | None:
    if day is None:
        return None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
