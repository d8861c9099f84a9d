"""The form to start an evolution run.

`EvolutionRunForm` holds the run's inputs (seed checkboxes show each seed's
title and role; the description is on the seeds page); `service_kwargs` turns
the cleaned form into the arguments of `evolution_run_create`, and
`add_service_errors` puts the service's field errors back onto the widgets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from backtests.selectors import instrument_choices
from evolution.engine.objectives import OBJECTIVE_NAMES
from evolution.engine.seeds import SEEDS

TIMEFRAMES = [("1h", "1h"), ("4h", "4h"), ("1d", "1d"), ("15m", "15m"), ("5m", "5m")]
OBJECTIVE_LABELS = {"sharpe": "Sharpe (max)", "consistency": "Consistency (max)",
                    "max_drawdown": "Max drawdown (min)", "turnover": "Turnover (min)"}
# Service error keys -> fields of the form.
SERVICE_FIELDS = {
    "instrument_ids": "instruments",
    "costs.maker_fee": "maker_fee",
    "costs.taker_fee": "taker_fee",
    "costs.slippage": "slippage",
    "split": "in_sample",
}


def _rate_field(initial: float, label: str) -> forms.FloatField:
    return forms.FloatField(min_value=0, max_value=0.0999, initial=initial, label=label,
                            widget=forms.NumberInput(attrs={"step": "any"}))


def _fraction_field(initial: float, label: str) -> forms.FloatField:
    return forms.FloatField(min_value=0.01, max_value=0.98, initial=initial, label=label,
                            widget=forms.NumberInput(attrs={"step": "0.05"}))


def seed_choices() -> list[tuple[str, str]]:
    return [(s.name, f"{s.title} ({', '.join(s.roles)})") for s in SEEDS.values()]


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class EvolutionRunForm(forms.Form):
    name = forms.CharField(max_length=200, required=False,
                           help_text="empty = instruments, timeframe and seed")
    seeds = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple,
                                      help_text="Seeds the genomes may combine")
    instruments = forms.ModelMultipleChoiceField(queryset=instrument_choices().none(),
                                                 help_text="One genome is scored on all of them")
    timeframe = forms.ChoiceField(choices=TIMEFRAMES, initial="1h")
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="From (UTC)")
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}),
                          label="To (UTC, exclusive)")
    in_sample = _fraction_field(0.6, "In-sample share")
    out_of_sample = _fraction_field(0.2, "Out-of-sample share")
    population = forms.IntegerField(min_value=4, max_value=1_000, initial=50)
    generations = forms.IntegerField(min_value=1, max_value=500, initial=20)
    objectives = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, choices=list(OBJECTIVE_LABELS.items()),
        initial=list(OBJECTIVE_NAMES), required=False,
        help_text="What NSGA-II ranks on (none ticked: all four); the combined score "
                  "0.5·Sharpe + 0.3·Consistency − 0.2·Drawdown ranks and displays")
    random_seed = forms.IntegerField(min_value=0, max_value=2**63 - 1, initial=42)
    maker_fee = _rate_field(0.0002, "Maker fee")
    taker_fee = _rate_field(0.0005, "Taker fee")
    slippage = _rate_field(0.0005, "Slippage")
    batch_size = forms.IntegerField(min_value=1, max_value=1_000, initial=5,
                                    help_text="genomes per Celery task")
    validate_top = forms.IntegerField(min_value=0, max_value=50, initial=10,
                                      help_text="best strategies validated IS / OOS / WF")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["seeds"].choices = seed_choices()
        self.fields["seeds"].initial = list(SEEDS)
        self.fields["instruments"].queryset = instrument_choices()
        today = datetime.now(UTC).date()
        self.fields["end"].initial = today
        self.fields["start"].initial = today - timedelta(days=365)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, second = data.get("in_sample"), data.get("out_of_sample")
        if first is not None and second is not None and first + second >= 0.99:
            self.add_error("out_of_sample", "in-sample and out-of-sample must leave room for "
                                            "the walk-forward span")
        return data

    def service_kwargs(self) -> dict[str, Any]:
        """Arguments of `evolution_run_create` (without `user`) from the cleaned form."""
        data = self.cleaned_data
        first, second = data["in_sample"], data["out_of_sample"]
        return {
            "name": data["name"],
            "seeds": list(data["seeds"]),
            "instrument_ids": [i.pk for i in data["instruments"]],
            "timeframe": data["timeframe"],
            "start": _utc_midnight(data["start"]),
            "end": _utc_midnight(data["end"]),
            "split": [first, second, round(1.0 - first - second, 10)],
            "population": data["population"],
            "generations": data["generations"],
            "objectives": list(data["objectives"]) or None,
            "random_seed": data["random_seed"],
            "costs": {k: data[k] for k in ("maker_fee", "taker_fee", "slippage")},
            "batch_size": min(data["batch_size"], data["population"]),
            "validate_top": data["validate_top"],
            "hall_of_fame_size": max(10, data["validate_top"]),
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        for key, messages in exc.message_dict.items():
            field = SERVICE_FIELDS.get(key, key)
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
