"""Plotly figures of evolution runs and strategies, built on the server.

Guarantees: figures are built from stored rows only (generation statistics,
the run's hall of fame) or from a strategy's on-demand backtest; each is JSON
safe to embed in `<script type="application/json">` (`backtests.charts.figure_json`);
static/js/evolution.js draws them with plotly.js. Pareto points carry the
genome in words in their hover text and the strategy page URL in `customdata`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backtests.charts import ACCENT, DOWN, MUTED, UP, WARN, figure_json
from evolution.engine.objectives import OBJECTIVE_NAMES
from evolution.models import GenerationStat

OBJECTIVE_TITLES = {"sharpe": "Sharpe (max)", "consistency": "Consistency (max)",
                    "max_drawdown": "Max drawdown (min)", "turnover": "Turnover (min, log)"}

__all__ = ["convergence_figure", "equity_with_splits_figure", "figure_json",
           "objectives_figure", "pareto_figure"]


def _style(fig: go.Figure, title: str, *, height: int = 340) -> go.Figure:
    fig.update_layout(
        template="plotly_dark", paper_bgcolor="#171d24", plot_bgcolor="#0f1419",
        font={"color": "#d7dde4", "size": 12}, height=height,
        margin={"l": 60, "r": 20, "t": 44, "b": 40},
        title={"text": title, "x": 0.01, "y": 0.98, "font": {"size": 13}},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0.35,
                "bgcolor": "rgba(0,0,0,0)"},
    )
    return fig


def _values(stats: Sequence[GenerationStat], name: str, which: str) -> list[float | None]:
    return [(s.objectives.get(name) or {}).get(which) for s in stats]


def convergence_figure(stats: Sequence[GenerationStat]) -> go.Figure:
    """Best, median and worst combined score of the population after each generation."""
    x = [s.generation for s in stats]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=_values(stats, "combined", "worst"), name="Worst",
                             mode="lines", line={"color": MUTED, "width": 1, "dash": "dot"}))
    fig.add_trace(go.Scatter(x=x, y=_values(stats, "combined", "median"), name="Median",
                             mode="lines+markers", line={"color": WARN, "width": 1.5}))
    fig.add_trace(go.Scatter(x=x, y=_values(stats, "combined", "best"), name="Best",
                             mode="lines+markers", line={"color": UP, "width": 2}))
    fig.update_xaxes(title_text="Generation", dtick=1 if len(x) <= 30 else None)
    fig.update_yaxes(title_text="Combined score")
    return _style(fig, "Convergence: combined score (0.5·Sharpe + 0.3·Consistency − 0.2·DD)")


def objectives_figure(stats: Sequence[GenerationStat]) -> go.Figure:
    """Best and median of each objective over the generations (one panel each)."""
    fig = make_subplots(rows=1, cols=len(OBJECTIVE_NAMES), horizontal_spacing=0.06,
                        subplot_titles=[OBJECTIVE_TITLES[n] for n in OBJECTIVE_NAMES])
    x = [s.generation for s in stats]
    for col, name in enumerate(OBJECTIVE_NAMES, start=1):
        for which, color in (("best", UP), ("median", WARN)):
            fig.add_trace(go.Scatter(x=x, y=_values(stats, name, which), mode="lines",
                                     name=which.capitalize(), line={"color": color},
                                     showlegend=col == 1, legendgroup=which), row=1, col=col)
        if name == "turnover":
            fig.update_yaxes(type="log", row=1, col=col)
    return _style(fig, "Objectives by generation", height=300)


def _hover(entry: Mapping[str, Any]) -> str:
    o = entry["objectives"]
    return (f"<b>{entry['identity']}</b><br>{entry['description']}<br>"
            f"Sharpe {o['sharpe']:.2f} · consistency {o['consistency']:.2f} · "
            f"max DD {100 * o['max_drawdown']:.1f}% · turnover {o['turnover']:.0f}/yr · "
            f"combined {o['combined']:.3f}")


def pareto_figure(pareto: Sequence[Mapping[str, Any]], urls: Mapping[str, str]) -> go.Figure:
    """The Pareto front: Sharpe against max drawdown, colour = consistency, size = turnover."""
    fig = go.Figure()
    if pareto:
        turnover = np.array([e["objectives"]["turnover"] for e in pareto], dtype=float)
        size = 8 + 14 * (1 - np.log1p(turnover) / max(np.log1p(turnover).max(), 1e-9))
        fig.add_trace(go.Scatter(
            x=[100 * e["objectives"]["max_drawdown"] for e in pareto],
            y=[e["objectives"]["sharpe"] for e in pareto], mode="markers", name="Pareto front",
            marker={"color": [e["objectives"]["consistency"] for e in pareto],
                    "colorscale": "Viridis", "cmin": 0, "cmax": 1, "size": size.tolist(),
                    "colorbar": {"title": {"text": "Consistency"}, "thickness": 12},
                    "line": {"color": "#0f1419", "width": 1}},
            hovertext=[_hover(e) for e in pareto], hoverinfo="text",
            customdata=[urls.get(e["identity"], "") for e in pareto],
        ))
    fig.update_xaxes(title_text="Max drawdown (%) — lower is better")
    fig.update_yaxes(title_text="Sharpe — higher is better")
    fig.update_layout(hovermode="closest")
    return _style(fig, "Pareto front (bigger = lower turnover; click a point to open it)",
                  height=400)


def equity_with_splits_figure(curve: Mapping[str, Any], windows: Mapping[str, Sequence[int]]
                              ) -> go.Figure:
    """Equity against buy-and-hold, with the out-of-sample and walk-forward spans shaded."""
    x = np.asarray(curve["timestamps"], dtype=np.int64)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=curve["equity"], name="Strategy", mode="lines",
                             line={"color": ACCENT, "width": 1.6}))
    fig.add_trace(go.Scatter(x=x, y=curve["benchmark"], name="Buy and hold", mode="lines",
                             line={"color": MUTED, "width": 1.2, "dash": "dot"}))
    for stage, color, label in (("out_of_sample", WARN, "out of sample"),
                                ("walk_forward", DOWN, "walk-forward")):
        span = windows.get(stage)
        if span:
            fig.add_vrect(x0=int(span[0]), x1=int(span[1]), fillcolor=color, opacity=0.08,
                          line_width=0, annotation_text=label, annotation_position="top left")
    fig.update_xaxes(type="date")
    fig.update_yaxes(title_text="Equity")
    fig.update_layout(hovermode="x unified")
    return _style(fig, "Equity (fees and slippage on) vs buy-and-hold", height=360)
