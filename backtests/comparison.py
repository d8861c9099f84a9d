"""Several sessions side by side: which figures to compare and which session is best at each.

Guarantees: a figure comes from the session's stored statistics (or its
headline columns when no result is stored), never recomputed; "best" follows
each metric's direction (a higher Sharpe, a shallower drawdown, lower fees);
metrics without a direction (trade count, exposure, beta) have no best; a
session without the figure never wins; ties go to the first session given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from backtests.models import BacktestSession

Better = Literal["higher", "lower"] | None
Unit = Literal["pct", "ratio", "money", "count", "days"]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    better: Better
    unit: Unit


COMPARE_METRICS: tuple[Metric, ...] = (
    Metric("total_return", "Total return", "higher", "pct"),
    Metric("annualized_return", "Annualised return", "higher", "pct"),
    Metric("volatility", "Volatility (annualised)", "lower", "pct"),
    Metric("sharpe", "Sharpe", "higher", "ratio"),
    Metric("sortino", "Sortino", "higher", "ratio"),
    Metric("calmar", "Calmar", "higher", "ratio"),
    Metric("max_drawdown", "Max drawdown", "higher", "pct"),
    Metric("max_drawdown_days", "Max drawdown duration (days)", "lower", "days"),
    Metric("var_95", "VaR 95 (per bar)", "higher", "pct"),
    Metric("cvar_95", "CVaR 95 (per bar)", "higher", "pct"),
    Metric("win_rate", "Win rate", "higher", "pct"),
    Metric("profit_factor", "Profit factor", "higher", "ratio"),
    Metric("expectancy", "Expectancy (per trade)", "higher", "money"),
    Metric("trades", "Trades", None, "count"),
    Metric("exposure", "Exposure", None, "pct"),
    Metric("beta", "Beta to buy-and-hold", None, "ratio"),
    Metric("total_fees", "Fees paid", "lower", "money"),
)
HEADLINE_SOURCE = {"trades": "trade_count"}
FIGURE_SECTIONS = ("performance", "risk", "trades", "costs")  # as statistics.flat_figures


def session_figures(session: BacktestSession) -> dict[str, Any]:
    """The comparable figures of one session (None where unknown)."""
    result = getattr(session, "result", None) if session.status == "completed" else None
    if result is not None and result.statistics:
        flat = {k: v for section in FIGURE_SECTIONS
                for k, v in result.statistics.get(section, {}).items()}
        return {m.key: flat.get(m.key) for m in COMPARE_METRICS}
    return {m.key: getattr(session, HEADLINE_SOURCE.get(m.key, m.key), None)
            for m in COMPARE_METRICS}


def _best_index(values: Sequence[Any], better: Better) -> int | None:
    scored = [(v if better == "higher" else -v, -i) for i, v in enumerate(values)
              if isinstance(v, (int, float))]
    if better is None or not scored:
        return None
    return -max(scored)[1]


def comparison_rows(sessions: Sequence[BacktestSession]) -> list[dict[str, Any]]:
    """Per metric: its definition and one cell per session, the best one flagged."""
    figures = [session_figures(s) for s in sessions]
    rows = []
    for metric in COMPARE_METRICS:
        values = [f[metric.key] for f in figures]
        best = _best_index(values, metric.better)
        rows.append({"metric": metric, "cells": [
            {"value": v, "best": i == best} for i, v in enumerate(values)
        ]})
    return rows


def best_by_metric(sessions: Sequence[BacktestSession]) -> dict[str, int | None]:
    """Per metric key, the id of the best session (None when no direction or no figures)."""
    out: dict[str, int | None] = {}
    for row in comparison_rows(sessions):
        winner = next((i for i, c in enumerate(row["cells"]) if c["best"]), None)
        out[row["metric"].key] = None if winner is None else sessions[winner].pk
    return out
