"""Risk profiles: everything a session needs, derived from symbols, capital and tolerance.

Guarantees: `RiskProfile.derive(tolerance, capital, market_stats, overrides)`
returns a frozen, validated profile. Each field comes from the tolerance table
below adjusted by market statistics (volatility scales position size down and
trail widths up; the average swing sets the grid spacing; the exchange's
minimum notional and the capital bound the number of positions), and every
field can be overridden by name. A bad override or an inconsistent profile
raises `ParameterError` naming each bad field. The stop-loss cap can never
exceed 15%.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from trading.engine.indicators import swing_highs, swing_lows
from trading.engine.market import Bars, timeframe_ms
from trading.engine.strategy import ParameterError

Tolerance = Literal["conservative", "moderate", "aggressive"]
TOLERANCES: tuple[str, ...] = get_args(Tolerance)

ABSOLUTE_MAX_STOP_LOSS = 0.15
REFERENCE_DAILY_VOLATILITY = 0.03  # BTC's long-run typical daily move; ratio 1 = "normal"
DRAWDOWN_PER_POSITION = 0.05  # each concurrent position may cost ~5% in a bad run
TRAIL_STATE_MULTIPLIERS = {"trending": 1.5, "ranging": 0.7, "volatile": 2.0, "calm": 0.5}

# One row per setting: (conservative, moderate, aggressive).
TOLERANCE_ROWS: dict[str, tuple[float, float, float]] = {
    "max_drawdown": (0.10, 0.15, 0.25),
    "min_buy_confidence": (0.70, 0.60, 0.50),
    "min_sell_confidence": (0.60, 0.50, 0.40),
    "max_disagreement": (0.55, 0.70, 0.85),
    "trail_base": (0.02, 0.015, 0.01),
    "base_position_fraction": (0.03, 0.05, 0.08),
    "max_position_fraction": (0.10, 0.25, 0.35),
    "risk_per_trade": (0.005, 0.01, 0.02),
    "kelly_safety": (0.25, 0.40, 0.50),
    "daily_loss_limit": (0.03, 0.05, 0.08),
    "max_consecutive_losses": (3, 4, 6),
    "max_daily_trades": (6, 12, 24),
    "max_slippage": (0.01, 0.02, 0.03),
    "max_exposure": (0.30, 0.60, 0.90),
    "stop_loss_base": (0.06, 0.08, 0.10),
    "stop_volatility_multiple": (2.0, 2.5, 3.0),
    "trailing_stop_confidence": (0.80, 0.75, 0.70),
    "time_stop_hours": (24, 48, 72),
    "liquidity_participation": (0.01, 0.01, 0.02),
}
TOLERANCE_TABLE: dict[str, dict[str, float]] = {
    tolerance: {name: row[column] for name, row in TOLERANCE_ROWS.items()}
    for column, tolerance in enumerate(TOLERANCES)
}


@dataclass(frozen=True)
class TakeProfitTier:
    """Sell `fraction` of the original position once price is `gain` above entry."""

    gain: float
    fraction: float
    label: str = ""


DEFAULT_TAKE_PROFITS: tuple[TakeProfitTier, ...] = (
    TakeProfitTier(0.15, 0.33, "conservative_target"),
    TakeProfitTier(0.30, 0.33, "moderate_target"),
    TakeProfitTier(0.60, 0.34, "aggressive_target"),
)


@dataclass(frozen=True)
class TrailWidths:
    """Trail distance (fraction of price) per volatility state of the regime."""

    trending: float
    ranging: float
    volatile: float
    calm: float

    def for_state(self, state: str) -> float:
        if state not in TRAIL_STATE_MULTIPLIERS:
            raise ValueError(f"unknown volatility state {state!r}")
        return float(getattr(self, state))

    @classmethod
    def around(cls, base: float) -> TrailWidths:
        """Widths as the reference multiples of `base` (1.5 / 0.7 / 2.0 / 0.5)."""
        widths = {s: min(0.15, max(0.002, base * m)) for s, m in TRAIL_STATE_MULTIPLIERS.items()}
        return cls(**widths)


@dataclass(frozen=True)
class MarketStats:
    """The market figures a profile is derived from."""

    price: float
    daily_volatility: float  # std of daily log returns
    avg_swing: float  # mean relative move between consecutive swing points
    avg_bar_volume: float  # base units per bar
    timeframe: str = "1h"
    min_notional: float = 0.0  # exchange minimum order value, quote units

    def __post_init__(self) -> None:
        for name in ("price", "daily_volatility", "avg_swing", "avg_bar_volume", "min_notional"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0 or (name == "price" and value == 0):
                raise ValueError(f"MarketStats.{name} must be finite and >= 0, got {value!r}")
        timeframe_ms(self.timeframe)

    @property
    def volatility_ratio(self) -> float:
        """Daily volatility relative to the reference, clipped to [0.25, 4]."""
        return min(4.0, max(0.25, self.daily_volatility / REFERENCE_DAILY_VOLATILITY))

    @classmethod
    def from_bars(
        cls, bars: Bars, *, min_notional: float = 0.0, swing_bars: int = 5
    ) -> MarketStats:
        """Statistics of a window of closed bars (a few weeks or more is best)."""
        if len(bars) < 2 * swing_bars + 3:
            raise ValueError(f"need at least {2 * swing_bars + 3} bars, got {len(bars)}")
        return cls(
            price=float(bars.close[-1]),
            daily_volatility=daily_volatility(bars),
            avg_swing=average_swing(bars, swing_bars),
            avg_bar_volume=float(np.mean(bars.volume)),
            timeframe=bars.timeframe,
            min_notional=min_notional,
        )


def daily_volatility(bars: Bars) -> float:
    """Standard deviation of per-bar log returns scaled to one day (0 for < 3 bars)."""
    close = bars.close
    if len(close) < 3:
        return 0.0
    returns = np.diff(np.log(close))
    bars_per_day = 86_400_000 / timeframe_ms(bars.timeframe)
    return float(np.std(returns, ddof=1) * math.sqrt(bars_per_day))


def average_swing(bars: Bars, swing_bars: int = 5) -> float:
    """Mean relative move between alternating confirmed swing highs and lows.

    Consecutive swings of the same kind keep the more extreme one, so the
    figure measures full up/down legs. With fewer than two legs it falls back
    to the mean bar range relative to the close.
    """
    highs = swing_highs(bars.high, swing_bars, swing_bars)
    lows = swing_lows(bars.low, swing_bars, swing_bars)
    legs = _alternating_swings(highs, lows)
    if len(legs) < 3:
        return float(np.mean((bars.high - bars.low) / bars.close))
    prices = np.asarray(legs)
    return float(np.mean(np.abs(prices[1:] / prices[:-1] - 1.0)))


def _alternating_swings(highs: np.ndarray, lows: np.ndarray) -> list[float]:
    points = sorted(
        [(int(i), 1, float(highs[i])) for i in np.flatnonzero(np.isfinite(highs))]
        + [(int(i), -1, float(lows[i])) for i in np.flatnonzero(np.isfinite(lows))]
    )
    legs: list[tuple[int, float]] = []
    for _, kind, price in points:
        if legs and legs[-1][0] == kind:
            if kind * price > kind * legs[-1][1]:
                legs[-1] = (kind, price)
        else:
            legs.append((kind, price))
    return [price for _, price in legs]


@dataclass(frozen=True)
class RiskProfile:
    """All the risk, sizing, exit and trail settings of one trading session."""

    tolerance: str
    capital: float
    symbols: tuple[str, ...]
    # entries
    min_buy_confidence: float
    min_sell_confidence: float
    max_disagreement: float
    first_entry_drop: float  # first buy once price falls this far from session start
    first_entry_agent_confidence: float  # ... or once one agent is this sure of a buy
    # sizing
    base_position_fraction: float
    max_position_fraction: float
    risk_per_trade: float
    kelly_safety: float
    kelly_min_trades: int
    liquidity_participation: float
    max_exposure: float
    # limits and circuit breakers
    max_positions: int
    daily_loss_limit: float
    max_drawdown: float
    max_consecutive_losses: int
    max_daily_trades: int
    max_slippage: float
    # exits
    stop_loss_base: float
    stop_volatility_multiple: float
    max_stop_loss: float
    take_profits: tuple[TakeProfitTier, ...]
    time_stop_ms: int
    trailing_stop_confidence: float
    # trails and grid
    trail_distance: float
    trail_widths: TrailWidths
    grid_spacing: float
    derived_from: Mapping[str, float] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        errors = _profile_errors(self)
        if errors:
            raise ParameterError(errors)

    @classmethod
    def derive(
        cls,
        tolerance: str,
        capital: float,
        market_stats: MarketStats,
        overrides: Mapping[str, Any] | None = None,
        *,
        symbols: Sequence[str] = (),
    ) -> RiskProfile:
        """The profile for `tolerance` and `capital` in a market like `market_stats`."""
        if tolerance not in TOLERANCE_TABLE:
            raise ParameterError({"tolerance": f"must be one of {list(TOLERANCES)}"})
        if not (math.isfinite(capital) and capital > 0):
            raise ParameterError({"capital": f"must be a positive amount, got {capital!r}"})
        table = TOLERANCE_TABLE[tolerance]
        if market_stats.min_notional > capital * table["max_position_fraction"]:
            raise ParameterError(
                {
                    "capital": f"{capital:g} is too small: the largest {tolerance} position "
                    f"({table['max_position_fraction']:.0%}) is under the exchange minimum "
                    f"order value {market_stats.min_notional:g}"
                }
            )
        fields_ = _derived_fields(table, float(capital), market_stats)
        base = cls(tolerance=tolerance, symbols=tuple(symbols), **fields_)
        return base.with_overrides(overrides or {})

    def with_overrides(self, overrides: Mapping[str, Any]) -> RiskProfile:
        """A copy with fields replaced by name; unknown names or bad values raise."""
        names = {f.name for f in dataclasses.fields(self)} - {"derived_from"}
        unknown = {k: "unknown risk profile field" for k in overrides if k not in names}
        if unknown:
            raise ParameterError(unknown)
        changes: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, value in overrides.items():
            try:
                changes[name] = _coerce_field(name, value)
            except (TypeError, ValueError) as exc:
                errors[name] = str(exc)
        if errors:
            raise ParameterError(errors)
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings, e.g. for a session's stored configuration."""
        out = dataclasses.asdict(self)
        out["symbols"] = list(self.symbols)
        out["take_profits"] = [dataclasses.asdict(t) for t in self.take_profits]
        out["derived_from"] = dict(self.derived_from)
        return out


def _derived_fields(table: Mapping[str, float], capital: float, stats: MarketStats) -> dict:
    ratio = stats.volatility_ratio
    max_fraction = table["max_position_fraction"]
    base_fraction = table["base_position_fraction"] * min(1.5, max(0.5, 1.0 / ratio))
    base_fraction = min(max_fraction, max(base_fraction, stats.min_notional / capital))
    affordable = math.floor(capital * table["max_exposure"] / (capital * base_fraction))
    positions = max(
        1, min(math.floor(table["max_drawdown"] / DRAWDOWN_PER_POSITION + 1e-9), affordable)
    )
    trail = min(0.10, max(0.003, table["trail_base"] * ratio))
    bar_ms = timeframe_ms(stats.timeframe)
    time_stop = max(int(table["time_stop_hours"] * 3_600_000), 12 * bar_ms)
    return {
        "capital": capital,
        "min_buy_confidence": table["min_buy_confidence"],
        "min_sell_confidence": table["min_sell_confidence"],
        "max_disagreement": table["max_disagreement"],
        "first_entry_drop": 0.02,
        "first_entry_agent_confidence": 0.70,
        "base_position_fraction": base_fraction,
        "max_position_fraction": max_fraction,
        "risk_per_trade": table["risk_per_trade"],
        "kelly_safety": table["kelly_safety"],
        "kelly_min_trades": 20,
        "liquidity_participation": table["liquidity_participation"],
        "max_exposure": table["max_exposure"],
        "max_positions": positions,
        "daily_loss_limit": table["daily_loss_limit"],
        "max_drawdown": table["max_drawdown"],
        "max_consecutive_losses": int(table["max_consecutive_losses"]),
        "max_daily_trades": int(table["max_daily_trades"]),
        "max_slippage": table["max_slippage"],
        "stop_loss_base": table["stop_loss_base"],
        "stop_volatility_multiple": table["stop_volatility_multiple"],
        "max_stop_loss": ABSOLUTE_MAX_STOP_LOSS,
        "take_profits": DEFAULT_TAKE_PROFITS,
        "time_stop_ms": time_stop,
        "trailing_stop_confidence": table["trailing_stop_confidence"],
        "trail_distance": trail,
        "trail_widths": TrailWidths.around(trail),
        "grid_spacing": min(0.05, max(0.005, stats.avg_swing * 0.3)),
        "derived_from": {
            "daily_volatility": stats.daily_volatility,
            "volatility_ratio": ratio,
            "avg_swing": stats.avg_swing,
            "price": stats.price,
            "min_notional": stats.min_notional,
        },
    }


_INT_FIELDS = {
    "kelly_min_trades",
    "max_positions",
    "max_consecutive_losses",
    "max_daily_trades",
    "time_stop_ms",
}
_UNIT_FIELDS = {
    "min_buy_confidence",
    "min_sell_confidence",
    "max_disagreement",
    "first_entry_drop",
    "first_entry_agent_confidence",
    "base_position_fraction",
    "max_position_fraction",
    "risk_per_trade",
    "kelly_safety",
    "liquidity_participation",
    "max_exposure",
    "daily_loss_limit",
    "max_drawdown",
    "max_slippage",
    "stop_loss_base",
    "trailing_stop_confidence",
    "trail_distance",
    "grid_spacing",
}


def _coerce_field(name: str, value: Any) -> Any:
    if name == "take_profits":
        return tuple(_as_tier(v) for v in value)
    if name == "trail_widths":
        return value if isinstance(value, TrailWidths) else TrailWidths(**dict(value))
    if name == "symbols":
        return tuple(str(s) for s in value)
    if name == "tolerance":
        return str(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"must be a number, got {type(value).__name__}")
    if name in _INT_FIELDS:
        if float(value) != int(value):
            raise ValueError("must be a whole number")
        return int(value)
    return float(value)


def _as_tier(value: Any) -> TakeProfitTier:
    if isinstance(value, TakeProfitTier):
        return value
    if isinstance(value, Mapping):
        return TakeProfitTier(**value)
    gain, fraction, *label = value
    return TakeProfitTier(float(gain), float(fraction), *(str(x) for x in label))


def _profile_errors(p: RiskProfile) -> dict[str, str]:
    errors: dict[str, str] = {}
    if p.tolerance not in TOLERANCES:
        errors["tolerance"] = f"must be one of {list(TOLERANCES)}"
    if not (math.isfinite(p.capital) and p.capital > 0):
        errors["capital"] = "must be a positive amount"
    for name in _UNIT_FIELDS:
        value = getattr(p, name)
        if not (math.isfinite(value) and 0 <= value <= 1):
            errors[name] = f"must be a fraction in [0, 1], got {value!r}"
    for name in _INT_FIELDS:
        if getattr(p, name) < 1:
            errors[name] = "must be at least 1"
    if not 0 < p.max_stop_loss <= ABSOLUTE_MAX_STOP_LOSS:
        errors["max_stop_loss"] = f"must be in (0, {ABSOLUTE_MAX_STOP_LOSS}]"
    if not (math.isfinite(p.stop_volatility_multiple) and p.stop_volatility_multiple >= 0):
        errors["stop_volatility_multiple"] = "must be >= 0"
    if p.base_position_fraction > p.max_position_fraction:
        errors["base_position_fraction"] = "must not exceed max_position_fraction"
    tier_error = _take_profit_error(p.take_profits)
    if tier_error:
        errors["take_profits"] = tier_error
    widths = dataclasses.astuple(p.trail_widths)
    if not all(math.isfinite(w) and 0 < w < 1 for w in widths):
        errors["trail_widths"] = "every width must be a fraction in (0, 1)"
    return errors


def _take_profit_error(tiers: Sequence[TakeProfitTier]) -> str:
    gains = [t.gain for t in tiers]
    if any(not (math.isfinite(g) and g > 0) for g in gains) or gains != sorted(set(gains)):
        return "gains must be positive and strictly increasing"
    fractions = [t.fraction for t in tiers]
    if any(not (math.isfinite(f) and 0 < f <= 1) for f in fractions):
        return "each fraction must be in (0, 1]"
    if sum(fractions) > 1 + 1e-9:
        return f"fractions sum to {sum(fractions):.4f}, more than the whole position"
    return ""
