"""The form to start a backtest; strategy parameter widgets come from the strategy's ParamSpace.

`BacktestForm` holds the session inputs (the event-driven engine fields are
sent as options only when the type is event-driven); `params_form_class(space)` builds the
parameter fields of one strategy (prefixed `param_`), swapped in by htmx when
the strategy changes. `BacktestForm.service_kwargs` turns both into the
arguments of `backtests.services.backtest_create`, and `add_service_errors`
puts the service's field errors back onto the right widgets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from backtests.engine.strategies import get_strategy, list_strategies
from backtests.models import BacktestSession
from backtests.options import (
    EVENT_ENGINES,
    EVENT_OPTION_SPECS,
    OPTION_DEFAULTS,
    RISK_PROFILES,
    WALK_FORWARD_MODES,
    option_names,
)
from backtests.selectors import instrument_choices
from trading.engine.strategy import Param, ParamSpace

TIMEFRAMES = [("1h", "1h"), ("4h", "4h"), ("1d", "1d"), ("15m", "15m"), ("5m", "5m")]
SIZING_MODES = [("fraction", "Fraction of equity"), ("cash", "Fixed cash"), ("units", "Fixed units")]
PARAM_PREFIX = "param_"
# Service error keys -> fields of BacktestForm ("params.<name>" goes to the params form).
SERVICE_FIELDS = {
    "instrument_ids": "instruments",
    "costs.maker_fee": "maker_fee",
    "costs.taker_fee": "taker_fee",
    "costs.slippage": "slippage",
    "sizing.mode": "sizing_mode",
    "sizing.value": "sizing_value",
    **{f"options.{name}": name for name in (*OPTION_DEFAULTS, *EVENT_OPTION_SPECS)},
}
ENGINE_LABELS = {
    "strategy": "Strategy alone (same trades as vectorised)",
    "agents": "All agents (consensus, trailing entries, planned exits)",
}
ENGINE_CHOICES = [(engine, ENGINE_LABELS[engine]) for engine in EVENT_ENGINES]



def _rate_field(initial: float, label: str) -> forms.FloatField:
    return forms.FloatField(min_value=0, max_value=0.0999, initial=initial, label=label,
                            widget=forms.NumberInput(attrs={"step": "any"}))


def _stop_field(label: str) -> forms.FloatField:
    return forms.FloatField(required=False, min_value=0.0001, max_value=0.99, label=label,
                            help_text="fraction of the entry price, e.g. 0.05; empty = none",
                            widget=forms.NumberInput(attrs={"step": "any"}))


def param_field(param: Param) -> forms.Field:
    """A form field with the parameter's type, bounds and default."""
    label, help_text = param.name, param.description
    if param.kind == "int":
        return forms.IntegerField(min_value=int(param.low), max_value=int(param.high), label=label,
                                  initial=param.default, help_text=help_text)
    if param.kind == "float":
        return forms.FloatField(min_value=param.low, max_value=param.high, initial=param.default,
                                label=label, help_text=help_text,
                                widget=forms.NumberInput(attrs={"step": "any"}))
    if param.kind == "bool":
        return forms.BooleanField(required=False, initial=param.default, label=label,
                                  help_text=help_text)
    return forms.TypedChoiceField(choices=[(c, c) for c in param.choices], initial=param.default,
                                  coerce=type(param.choices[0]), label=label, help_text=help_text)


def params_form_class(space: ParamSpace) -> type[forms.Form]:
    fields = {f"{PARAM_PREFIX}{p.name}": param_field(p) for p in space}
    return type("StrategyParamsForm", (forms.Form,), fields)


def params_form(strategy_name: str | None, data: Any = None) -> forms.Form | None:
    """The bound (or unbound) parameter form of a registered strategy; None if unknown."""
    try:
        strategy = get_strategy(strategy_name or default_strategy())
    except KeyError:
        return None
    return params_form_class(strategy.param_space)(data)


def params_from_form(space: ParamSpace, cleaned: dict[str, Any]) -> dict[str, Any]:
    return {p.name: cleaned[f"{PARAM_PREFIX}{p.name}"] for p in space
            if f"{PARAM_PREFIX}{p.name}" in cleaned}


def default_strategy() -> str:
    names = [s.name for s in list_strategies()]
    return "sma_crossover" if "sma_crossover" in names else (names[0] if names else "")


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class BacktestForm(forms.Form):
    name = forms.CharField(max_length=200, required=False,
                           help_text="empty = strategy, instruments and dates")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    strategy = forms.ChoiceField()
    instruments = forms.ModelMultipleChoiceField(queryset=instrument_choices().none())
    timeframe = forms.ChoiceField(choices=TIMEFRAMES, initial="1h")
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="From (UTC)")
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}),
                          label="To (UTC, exclusive)")
    kind = forms.ChoiceField(choices=BacktestSession.Kind.choices, initial="vectorized",
                             label="Backtest type")
    engine = forms.ChoiceField(choices=ENGINE_CHOICES, initial="strategy", required=False,
                               help_text=EVENT_OPTION_SPECS["engine"].help)
    risk_profile = forms.ChoiceField(choices=[(p, p) for p in RISK_PROFILES], initial="moderate",
                                     required=False,
                                     help_text=EVENT_OPTION_SPECS["risk_profile"].help)
    strategy_weight = forms.FloatField(min_value=0, max_value=10, initial=1.0, required=False,
                                       widget=forms.NumberInput(attrs={"step": "any"}),
                                       help_text=EVENT_OPTION_SPECS["strategy_weight"].help)
    initial_cash = forms.FloatField(min_value=1, initial=10_000)
    maker_fee = _rate_field(0.0002, "Maker fee")
    taker_fee = _rate_field(0.0005, "Taker fee")
    slippage = _rate_field(0.0005, "Slippage")
    sizing_mode = forms.ChoiceField(choices=SIZING_MODES, initial="fraction", label="Sizing")
    sizing_value = forms.FloatField(min_value=0, initial=1.0, label="Size",
                                    widget=forms.NumberInput(attrs={"step": "any"}),
                                    help_text="fraction (0, 1], cash amount, or units")
    allow_short = forms.BooleanField(required=False, label="Allow shorts")
    stop_loss = _stop_field("Stop-loss")
    take_profit = _stop_field("Take-profit")
    trailing_stop = _stop_field("Trailing stop")
    monte_carlo_paths = forms.IntegerField(min_value=0, max_value=100_000, initial=10_000,
                                           help_text="0 = skip Monte Carlo")
    walk_forward_windows = forms.IntegerField(min_value=0, max_value=50, initial=5,
                                              help_text="0 = skip walk-forward")
    walk_forward_mode = forms.ChoiceField(choices=[(m, m) for m in WALK_FORWARD_MODES],
                                          initial="rolling")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["strategy"].choices = [(s.name, s.name) for s in list_strategies()]
        self.fields["strategy"].initial = default_strategy()
        self.fields["instruments"].queryset = instrument_choices()
        today = datetime.now(UTC).date()
        self.fields["end"].initial = today
        self.fields["start"].initial = today - timedelta(days=365)

    def service_kwargs(self, params: dict[str, Any]) -> dict[str, Any]:
        """Arguments of `backtest_create` (without `user`) from the cleaned form."""
        data = self.cleaned_data
        names = ", ".join(i.symbol for i in data["instruments"])
        default_name = f"{data['strategy']} {names} {data['timeframe']} {data['start']}..{data['end']}"
        options = {name: data[name] for name in option_names(data["kind"])
                   if data.get(name) not in (None, "")}
        return {
            "name": data["name"] or default_name[:200],
            "description": data["description"],
            "strategy": data["strategy"],
            "params": params,
            "instrument_ids": [i.pk for i in data["instruments"]],
            "timeframe": data["timeframe"],
            "start": _utc_midnight(data["start"]),
            "end": _utc_midnight(data["end"]),
            "initial_cash": data["initial_cash"],
            "costs": {k: data[k] for k in ("maker_fee", "taker_fee", "slippage")},
            "sizing": {"mode": data["sizing_mode"], "value": data["sizing_value"]},
            "options": options,
            "kind": data["kind"],
        }

    def add_service_errors(self, exc: ValidationError, params: forms.Form | None) -> None:
        """Attach the service's field errors to the matching fields of this form or `params`."""
        for key, messages in exc.message_dict.items():
            if key.startswith("params.") and params is not None:
                field = PARAM_PREFIX + key.removeprefix("params.")
                if field in params.fields:
                    for message in messages:
                        params.add_error(field, message)
                    continue
            field = SERVICE_FIELDS.get(key, key)
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
