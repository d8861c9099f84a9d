"""Named indicator requests: "sma:20", "bollinger:20:2", "macd:12:26:9".

Guarantees: `parse_indicator_specs` either returns specs whose parameters are
within the documented bounds (so computing them cannot fail on bad input) or
raises `IndicatorSpecError` naming the offending item. `IndicatorSpec.compute`
returns named float64 series aligned with the bars, computed by
`trading.engine.indicators`. `warmup_bars` is how many bars before a range
must be loaded so values at the range start match a computation from the
first stored bar (exactly for windowed indicators, to well below 1e-8
relative for the exponentially smoothed ones).

The same registry serves the chart overlays and the `/api/v1/indicators` endpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from trading.engine import indicators as ind
from trading.engine.market import Bars, periods_per_year, timeframe_ms

Placement = Literal["price", "volume", "panel"]
Number = int | float
MAX_SPECS = 12
MAX_PERIOD = 2_000
# Exponential smoothing: (1 - 2/(n+1))^(10n) < 1e-8 for every n >= 2.
EXPONENTIAL_WARMUP = 10
MAX_WARMUP_BARS = 25_000


class IndicatorSpecError(ValueError):
    """An indicator request that names an unknown indicator or has bad parameters."""


@dataclass(frozen=True)
class ParamDef:
    name: str
    kind: type[int] | type[float]
    default: Number
    minimum: Number
    maximum: Number
    description: str = ""


@dataclass(frozen=True)
class IndicatorDef:
    name: str
    label: str
    params: tuple[ParamDef, ...]
    outputs: tuple[str, ...]
    placement: Placement
    compute: Callable[..., tuple[np.ndarray, ...]]
    warmup: Callable[..., int]
    check: Callable[..., str | None] = lambda *params: None


@dataclass(frozen=True)
class IndicatorSpec:
    """One requested indicator with all its parameters filled in."""

    definition: IndicatorDef
    params: tuple[Number, ...]

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def key(self) -> str:
        """Canonical text form, e.g. 'bollinger:20:2'."""
        return ":".join([self.name, *(_format_number(p) for p in self.params)])

    @property
    def label(self) -> str:
        args = ", ".join(_format_number(p) for p in self.params)
        return f"{self.definition.label}({args})" if args else self.definition.label

    @property
    def params_by_name(self) -> dict[str, Number]:
        return {p.name: v for p, v in zip(self.definition.params, self.params, strict=True)}

    def warmup_bars(self, timeframe: str) -> int:
        return int(self.definition.warmup(timeframe, *self.params))

    def compute(self, bars: Bars) -> dict[str, np.ndarray]:
        values = self.definition.compute(bars, *self.params)
        return dict(zip(self.definition.outputs, values, strict=True))


def _format_number(value: Number) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _period(
    name: str = "n", default: int = 20, minimum: int = 2, description: str = ""
) -> ParamDef:
    return ParamDef(name, int, default, minimum, MAX_PERIOD, description or "period in bars")


def _windowed(timeframe: str, n: int, *rest: Number) -> int:
    return n + 1


def _exponential(timeframe: str, n: int, *rest: Number) -> int:
    return EXPONENTIAL_WARMUP * n


def _session_warmup(timeframe: str, hours: int, k: float) -> int:
    return -(-hours * 3_600_000 // timeframe_ms(timeframe))


def _macd_check(fast: int, slow: int, signal: int) -> str | None:
    return None if fast < slow else f"fast ({fast}) must be smaller than slow ({slow})"


_K = ParamDef("k", float, 2.0, 0.0, 10.0, "band width in standard deviations")

INDICATORS: dict[str, IndicatorDef] = {
    d.name: d
    for d in (
        IndicatorDef(
            name="sma",
            label="SMA",
            params=(_period(),),
            outputs=("value",),
            placement="price",
            compute=lambda b, n: (ind.sma(b.close, n),),
            warmup=_windowed,
        ),
        IndicatorDef(
            name="ema",
            label="EMA",
            params=(_period(),),
            outputs=("value",),
            placement="price",
            compute=lambda b, n: (ind.ema(b.close, n),),
            warmup=_exponential,
        ),
        IndicatorDef(
            name="wma",
            label="WMA",
            params=(_period(),),
            outputs=("value",),
            placement="price",
            compute=lambda b, n: (ind.wma(b.close, n),),
            warmup=_windowed,
        ),
        IndicatorDef(
            name="bollinger",
            label="Bollinger",
            params=(_period(), _K),
            outputs=("upper", "middle", "lower"),
            placement="price",
            compute=lambda b, n, k: ind.bollinger(b.close, n, k),
            warmup=_windowed,
        ),
        IndicatorDef(
            name="donchian",
            label="Donchian",
            params=(_period(),),
            outputs=("upper", "lower", "middle"),
            placement="price",
            compute=lambda b, n: ind.donchian(b.high, b.low, n),
            warmup=_windowed,
        ),
        IndicatorDef(
            name="vwap",
            label="VWAP",
            params=(_period(default=24),),
            outputs=("value",),
            placement="price",
            compute=lambda b, n: (ind.vwap_rolling(b.high, b.low, b.close, b.volume, n),),
            warmup=_windowed,
        ),
        IndicatorDef(
            name="vwap_session",
            label="Session VWAP",
            params=(
                ParamDef("hours", int, 24, 1, 24 * 28, "session length in hours (UTC days)"),
                _K,
            ),
            outputs=("value", "upper", "lower"),
            placement="price",
            compute=lambda b, hours, k: ind.vwap_session(
                b.high, b.low, b.close, b.volume, b.timestamps, hours * 3_600_000, k
            ),
            warmup=_session_warmup,
        ),
        IndicatorDef(
            name="volume_ma",
            label="Volume MA",
            params=(_period(),),
            outputs=("value",),
            placement="volume",
            compute=lambda b, n: (ind.volume_ma(b.volume, n),),
            warmup=_windowed,
        ),
        IndicatorDef(
            name="rsi",
            label="RSI",
            params=(_period(default=14),),
            outputs=("value",),
            placement="panel",
            compute=lambda b, n: (ind.rsi(b.close, n),),
            warmup=_exponential,
        ),
        IndicatorDef(
            name="macd",
            label="MACD",
            params=(_period("fast", 12, 1), _period("slow", 26), _period("signal", 9, 1)),
            outputs=("macd", "signal", "histogram"),
            placement="panel",
            compute=lambda b, fast, slow, signal: ind.macd(b.close, fast, slow, signal),
            warmup=lambda tf, fast, slow, signal: EXPONENTIAL_WARMUP * slow + signal,
            check=_macd_check,
        ),
        IndicatorDef(
            name="atr",
            label="ATR",
            params=(_period(default=14, minimum=1),),
            outputs=("value",),
            placement="panel",
            compute=lambda b, n: (ind.atr(b.high, b.low, b.close, n),),
            warmup=_exponential,
        ),
        IndicatorDef(
            name="adx",
            label="ADX",
            params=(_period(default=14),),
            outputs=("value",),
            placement="panel",
            compute=lambda b, n: (ind.adx(b.high, b.low, b.close, n),),
            warmup=lambda tf, n: 2 * EXPONENTIAL_WARMUP * n,
        ),
        IndicatorDef(
            name="stochastic",
            label="Stochastic",
            params=(_period("k", 14, 1), _period("smooth_k", 3, 1), _period("d", 3, 1)),
            outputs=("k", "d"),
            placement="panel",
            compute=lambda b, k, smooth_k, d: ind.stochastic(
                b.high, b.low, b.close, k, smooth_k, d
            ),
            warmup=lambda tf, k, smooth_k, d: k + smooth_k + d,
        ),
        IndicatorDef(
            name="obv",
            label="OBV",
            params=(),
            outputs=("value",),
            placement="panel",
            compute=lambda b: (ind.obv(b.close, b.volume),),
            warmup=lambda tf: 0,
        ),
        IndicatorDef(
            name="zscore",
            label="Z-score",
            params=(_period(),),
            outputs=("value",),
            placement="panel",
            compute=lambda b, n: (ind.zscore(b.close, n),),
            warmup=_windowed,
        ),
        IndicatorDef(
            name="realized_volatility",
            label="Realised volatility",
            params=(_period(),),
            outputs=("value",),
            placement="panel",
            compute=lambda b, n: (
                ind.realized_volatility(b.close, n, periods_per_year(b.timeframe)),
            ),
            warmup=_windowed,
        ),
    )
}


def indicator_spec(name: str, *params: Number | str) -> IndicatorSpec:
    """A checked spec from a name and (possibly fewer than all) parameters, numbers or text."""
    definition = INDICATORS.get(name.strip().lower())
    if definition is None:
        raise IndicatorSpecError(
            f"unknown indicator {name!r}; available: {', '.join(sorted(INDICATORS))}"
        )
    if len(params) > len(definition.params):
        raise IndicatorSpecError(
            f"{definition.name} takes at most {len(definition.params)} parameter(s), "
            f"got {len(params)}"
        )
    values = [
        _checked(definition.name, p, v) for p, v in zip(definition.params, params, strict=False)
    ]
    values += [p.default for p in definition.params[len(params) :]]
    problem = definition.check(*values)
    if problem:
        raise IndicatorSpecError(f"{definition.name}: {problem}")
    return IndicatorSpec(definition, tuple(values))


def _checked(indicator: str, param: ParamDef, raw: Number | str) -> Number:
    where = f"{indicator} parameter {param.name!r}"
    try:
        number = float(raw) if not isinstance(raw, int | float) else raw
    except (TypeError, ValueError):
        raise IndicatorSpecError(f"{where} must be a number, got {raw!r}") from None
    if isinstance(number, bool) or not math.isfinite(number):
        raise IndicatorSpecError(f"{where} must be a finite number, got {raw!r}")
    if param.kind is int:
        if not float(number).is_integer():
            raise IndicatorSpecError(f"{where} must be a whole number, got {raw!r}")
        number = int(number)
    else:
        number = float(number)
    if not param.minimum <= number <= param.maximum:
        raise IndicatorSpecError(
            f"{where} must be between {param.minimum} and {param.maximum}, got {raw!r}"
        )
    return number


def parse_indicator_specs(text: str) -> list[IndicatorSpec]:
    """'sma:20,rsi:14,bollinger:20:2' -> specs (duplicates dropped, order kept)."""
    items = [item.strip() for item in (text or "").split(",") if item.strip()]
    if not items:
        raise IndicatorSpecError("name at least one indicator, e.g. sma:20,rsi:14")
    if len(items) > MAX_SPECS:
        raise IndicatorSpecError(f"at most {MAX_SPECS} indicators per request, got {len(items)}")
    specs: dict[str, IndicatorSpec] = {}
    for item in items:
        name, *params = item.split(":")
        spec = indicator_spec(name, *params)
        specs.setdefault(spec.key, spec)
    return list(specs.values())


def warmup_bars(specs: list[IndicatorSpec], timeframe: str) -> int:
    """Bars to load before a range so the specs' values at its start are settled."""
    return min(MAX_WARMUP_BARS, max((s.warmup_bars(timeframe) for s in specs), default=0))
