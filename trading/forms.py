"""The instrument chart's controls (GET form): timeframe, date range, overlays and panels.

Indicator fields are generated from the indicator registry, so bounds and
defaults are the same as the API's. A query string without `configured`
(a plain link to the page) starts from the default overlays.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms

from trading.charts import ChartRequest, IndicatorSpecError, indicator_spec
from trading.charts.indicator_specs import INDICATORS, ParamDef
from trading.instants import is_date_only, parse_instant

CHART_INDICATORS = ("sma", "ema", "bollinger", "donchian", "vwap", "rsi", "macd")
DEFAULT_ON = ("sma", "rsi")
DAY_MS = int(timedelta(days=1).total_seconds() * 1000)


def _param_field(param: ParamDef) -> forms.Field:
    attrs = {
        "class": "param",
        "title": f"{param.name}: {param.description}",
        "placeholder": param.name,
    }
    if param.kind is int:
        return forms.IntegerField(
            required=False,
            min_value=int(param.minimum),
            max_value=int(param.maximum),
            initial=param.default,
            label=param.name,
            widget=forms.NumberInput(attrs=attrs),
        )
    return forms.FloatField(
        required=False,
        min_value=param.minimum,
        max_value=param.maximum,
        initial=param.default,
        label=param.name,
        widget=forms.NumberInput(attrs={**attrs, "step": "0.1"}),
    )


class ChartForm(forms.Form):
    configured = forms.CharField(required=False, widget=forms.HiddenInput, initial="1")
    timeframe = forms.ChoiceField(choices=())
    # ISO date or date-time (UTC) or epoch ms; a plain end date is inclusive.
    start = forms.CharField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.CharField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, timeframes: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timeframe"].choices = [(tf, tf) for tf in timeframes]
        for name in CHART_INDICATORS:
            definition = INDICATORS[name]
            self.fields[name] = forms.BooleanField(required=False, label=definition.label)
            for param in definition.params:
                self.fields[f"{name}_{param.name}"] = _param_field(param)

    @classmethod
    def from_query(cls, query, *, timeframes: list[str]) -> ChartForm:
        """Bind to the query string; a bare link gets the default overlays and timeframe."""
        data = query.copy()
        data["configured"] = "1"
        for name in CHART_INDICATORS:
            for param in INDICATORS[name].params:
                if not data.get(f"{name}_{param.name}"):
                    data[f"{name}_{param.name}"] = str(param.default)
        if "configured" not in query:
            default_tf = "1h" if "1h" in timeframes else (timeframes[0] if timeframes else "")
            data.setdefault("timeframe", default_tf)
            for name in DEFAULT_ON:
                data.setdefault(name, "on")
        return cls(data, timeframes=timeframes)

    @property
    def indicator_controls(self) -> list[tuple[forms.BoundField, list[forms.BoundField]]]:
        return [
            (self[name], [self[f"{name}_{p.name}"] for p in INDICATORS[name].params])
            for name in CHART_INDICATORS
        ]

    def _clean_instant(self, field: str) -> int | None:
        raw = (self.cleaned_data.get(field) or "").strip()
        if not raw:
            return None
        try:
            ms = parse_instant(raw)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return ms + DAY_MS if field == "end" and is_date_only(raw) else ms

    def clean_start(self) -> int | None:
        return self._clean_instant("start")

    def clean_end(self) -> int | None:
        return self._clean_instant("end")

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is not None and end is not None and end <= start:
            self.add_error("end", "must be after the start")
        specs = []
        for name in CHART_INDICATORS:
            if not cleaned.get(name):
                continue
            params = [cleaned.get(f"{name}_{p.name}") for p in INDICATORS[name].params]
            values = [
                p.default if v is None else v
                for p, v in zip(INDICATORS[name].params, params, strict=True)
            ]
            try:
                specs.append(indicator_spec(name, *values))
            except IndicatorSpecError as exc:
                self.add_error(name, str(exc))
        cleaned["indicators"] = tuple(specs)
        return cleaned

    def chart_request(self) -> ChartRequest:
        data = self.cleaned_data
        return ChartRequest(data["timeframe"], data["start"], data["end"], data["indicators"])
