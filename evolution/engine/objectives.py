"""The GA's objectives and the combined score, computed from per-asset backtest returns.

Definitions (every genome is scored on one or more assets, each over its own bars):
- sharpe: the mean over assets of each asset's annualised Sharpe ratio of its
  per-bar net returns, mean / std (ddof=1) * sqrt(bars per year); 0 for a flat
  return series; clipped to [-SHARPE_LIMIT, SHARPE_LIMIT]. Maximised.
- consistency: the in-sample window is cut into `sub_periods` equal spans of
  time; each (asset, span) cell holding bars is a cell; consistency is the
  share of cells whose compounded net return (the product of 1 + r over the
  cell's bars, less 1: `column_scores.compound_by_bin`) is positive, in [0, 1]. A
  strategy that earns in one year and one asset scores low. Maximised.
- max_drawdown: the worst (largest) over assets of the peak-to-trough fall of
  the equity curve, the starting capital counting as a peak, in [0, 1].
  Minimised.
- turnover: the mean over assets of traded value / equity per year (2.0 = the
  account's value bought and sold once a year), clipped to TURNOVER_LIMIT.
  Minimised.
- combined = 0.5 * sharpe_norm + 0.3 * consistency - 0.2 * drawdown_norm, where
  sharpe_norm = clip(sharpe / SHARPE_SCALE, -1, 1) (a Sharpe of 3 is the top)
  and drawdown_norm = clip(max_drawdown / DRAWDOWN_SCALE, 0, 1) (a 50% drawdown
  is the bottom). It lies in [-0.7, 0.8]; used for ranking and display only,
  NSGA-II selects on the four objectives.

`WORST` is the fitness of a genome that crashed, looked ahead or never traded:
every valid result is at least as good on each objective (valid values are
clipped to the same limits), so it never survives selection over a working one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from backtests.engine import statistics
from evolution.engine.column_scores import compound_by_bin

OBJECTIVE_NAMES: tuple[str, ...] = ("sharpe", "consistency", "max_drawdown", "turnover")
OBJECTIVE_WEIGHTS: tuple[float, ...] = (1.0, 1.0, -1.0, -1.0)  # +1 maximise, -1 minimise
SHARPE_LIMIT = 20.0
TURNOVER_LIMIT = 10_000.0
SHARPE_SCALE = 3.0
DRAWDOWN_SCALE = 0.5
COMBINED_WEIGHTS = {"sharpe": 0.5, "consistency": 0.3, "drawdown": 0.2}


@dataclass(frozen=True)
class Objectives:
    """The four objectives of one genome (see the module docstring)."""

    sharpe: float
    consistency: float
    max_drawdown: float
    turnover: float

    def values(self) -> tuple[float, float, float, float]:
        return (self.sharpe, self.consistency, self.max_drawdown, self.turnover)

    @property
    def sharpe_norm(self) -> float:
        return float(np.clip(self.sharpe / SHARPE_SCALE, -1.0, 1.0))

    @property
    def drawdown_norm(self) -> float:
        return float(np.clip(self.max_drawdown / DRAWDOWN_SCALE, 0.0, 1.0))

    @property
    def combined(self) -> float:
        return (
            COMBINED_WEIGHTS["sharpe"] * self.sharpe_norm
            + COMBINED_WEIGHTS["consistency"] * self.consistency
            - COMBINED_WEIGHTS["drawdown"] * self.drawdown_norm
        )

    def as_dict(self) -> dict[str, float]:
        data = asdict(self)
        data["combined"] = self.combined
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, float]) -> Objectives:
        return cls(*(float(data[name]) for name in OBJECTIVE_NAMES))


WORST = Objectives(sharpe=-SHARPE_LIMIT, consistency=0.0, max_drawdown=1.0, turnover=TURNOVER_LIMIT)


@dataclass(frozen=True, eq=False)
class AssetOutcome:
    """One asset's backtest of one genome: per-bar net returns over the scored bars."""

    symbol: str
    timestamps: np.ndarray  # int64 ms, bar open times of the scored bars
    returns: np.ndarray  # float64 net return of each bar (costs included)
    trades: int
    turnover: float  # traded value / equity per year

    def __post_init__(self) -> None:
        if len(self.timestamps) != len(self.returns):
            raise ValueError("AssetOutcome.returns must align with its timestamps")


def sharpe_ratio(returns: np.ndarray, periods_per_year: float) -> float:
    """Annualised Sharpe as `backtests.engine.statistics` defines it; 0 when flat or too short."""
    value = statistics.sharpe_ratio(np.asarray(returns, dtype=np.float64), periods_per_year)
    return value if math.isfinite(value) else 0.0


def max_drawdown(returns: np.ndarray) -> float:
    """The largest fall of the compounded equity from a running peak (start = 1 is a peak)."""
    if len(returns) == 0:
        return 0.0
    equity = np.cumprod(1.0 + np.asarray(returns, dtype=np.float64))
    return float(np.clip(-statistics.max_drawdown(equity, 1.0), 0.0, 1.0))


def span_edges(outcomes: Sequence[AssetOutcome], count: int) -> np.ndarray:
    """`count + 1` timestamps cutting the outcomes' common time range into equal spans."""
    return span_edges_of([o.timestamps for o in outcomes], count)


def span_edges_of(timestamps: Sequence[np.ndarray], count: int) -> np.ndarray:
    """`span_edges` of the assets' bar timestamps."""
    if count < 1:
        raise ValueError("sub-period count must be >= 1")
    starts = [int(t[0]) for t in timestamps if len(t)]
    stops = [int(t[-1]) + 1 for t in timestamps if len(t)]
    if not starts:
        return np.zeros(count + 1, dtype=np.int64)
    return np.linspace(min(starts), max(stops), count + 1).astype(np.int64)


def span_index(timestamps: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The span each bar falls in (bars outside the edges go to the first or last span)."""
    spans = len(edges) - 1
    return np.clip(np.searchsorted(edges, timestamps, side="right") - 1, 0, spans - 1)


def span_returns(outcome: AssetOutcome, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(compounded return per span, whether the span holds any of the asset's bars)."""
    spans = len(edges) - 1
    index = span_index(outcome.timestamps, edges)
    totals = np.empty(spans)
    compound_by_bin(np.ascontiguousarray(outcome.returns, dtype=np.float64), index, totals)
    present = np.bincount(index, minlength=spans) > 0
    return totals, present


def cell_counts(
    outcomes: Sequence[AssetOutcome], sub_periods: int
) -> tuple[int, int]:
    """(positive cells, cells): (asset, sub-period) cells holding bars, and those of them
    with a positive compounded return."""
    edges = span_edges(outcomes, sub_periods)
    positive = cells = 0
    for outcome in outcomes:
        totals, present = span_returns(outcome, edges)
        positive += int(np.count_nonzero((totals > 0) & present))
        cells += int(np.count_nonzero(present))
    return positive, cells


def consistency(outcomes: Sequence[AssetOutcome], sub_periods: int) -> float:
    """Share of (asset, sub-period) cells with a positive compounded return."""
    positive, cells = cell_counts(outcomes, sub_periods)
    return positive / cells if cells else 0.0


def combine(
    sharpes: Sequence[float],
    positive_cells: int,
    cells: int,
    drawdowns: Sequence[float],
    turnovers: Sequence[float],
) -> Objectives:
    """The objectives from per-asset figures: `sharpe_ratio`s, the cell counts of
    `cell_counts`, `max_drawdown`s and turnovers."""
    if not sharpes:
        raise ValueError("a genome is scored on at least one asset")
    sharpe = _mean(sharpes)
    return Objectives(
        sharpe=-SHARPE_LIMIT if sharpe < -SHARPE_LIMIT else
        SHARPE_LIMIT if sharpe > SHARPE_LIMIT else sharpe,
        consistency=positive_cells / cells if cells else 0.0,
        max_drawdown=_largest(drawdowns),
        turnover=min(_mean(turnovers), TURNOVER_LIMIT),
    )


def _mean(values: Sequence[float]) -> float:
    """`float(np.mean(values))` of a few floats (numpy adds fewer than 8 values one by one
    from 0.0, then divides), without numpy's per-call cost: `combine` runs per genome."""
    if len(values) >= 8:
        return float(np.mean(values))
    total = 0.0
    for value in values:
        total += value
    return total / len(values)


def _largest(values: Sequence[float]) -> float:
    """`float(np.max(values))`: the largest value, NaN if any is NaN."""
    largest = float(values[0])
    for value in values:
        if value != value or largest != largest:
            return math.nan
        largest = largest if largest >= value else float(value)
    return largest


def score(
    outcomes: Sequence[AssetOutcome], periods_per_year: float, sub_periods: int
) -> Objectives:
    """The objectives of a genome from its per-asset outcomes."""
    if not outcomes:
        raise ValueError("a genome is scored on at least one asset")
    return combine(
        [sharpe_ratio(o.returns, periods_per_year) for o in outcomes],
        *cell_counts(outcomes, sub_periods),
        [max_drawdown(o.returns) for o in outcomes],
        [o.turnover for o in outcomes],
    )
