"""Plotly figures of a backtest session, built on the server from its stored results.

Guarantees: every figure is built from what `BacktestResult` stores (and, for
the candlestick, the session's candles from the database, downsampled to at
most `MAX_CANDLES` buckets); nothing is recomputed. `figure_json` returns JSON
safe to embed in a `<script type="application/json">` element; the page script
(static/js/backtests.js) draws every such element with plotly.js. Time axes
are dates fed with epoch milliseconds (UTC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from trading.charts import downsample_bars
from trading.engine.market import Bars

UP, DOWN, ACCENT, MUTED, WARN = "#2ebd85", "#f6465d", "#4fa3ff", "#8a96a3", "#f0b90b"
PALETTE = ("#4fa3ff", "#f0b90b", "#c678dd", "#56b6c2", "#e5c07b", "#98c379", "#e06c75", "#d19a66")
MAX_CANDLES = 2_000
MAX_MARKERS = 2_000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def figure_json(fig: go.Figure) -> str:
    return fig.to_json().translate(_SCRIPT_ESCAPES)


def _style(fig: go.Figure, title: str, *, height: int = 360, date_axis: bool = True,
           percent_y: bool = False) -> go.Figure:
    fig.update_layout(
        template="plotly_dark", paper_bgcolor="#171d24", plot_bgcolor="#0f1419",
        font={"color": "#d7dde4", "size": 12}, height=height,
        margin={"l": 60, "r": 20, "t": 40, "b": 35},
        title={"text": title, "x": 0.01, "y": 0.98, "font": {"size": 13}},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0.3,
                "bgcolor": "rgba(0,0,0,0)"},
    )
    if date_axis:
        fig.update_xaxes(type="date")
        fig.update_layout(hovermode="x unified")
    if percent_y:
        fig.update_yaxes(tickformat=".1%")
    return fig


def _array(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


# --- Equity and drawdown --------------------------------------------------------------------
def equity_figure(equity: Mapping[str, Any]) -> go.Figure:
    fig = go.Figure()
    x = np.asarray(equity["timestamps"], dtype=np.int64)
    fig.add_trace(go.Scatter(x=x, y=_array(equity["equity"]), name="Strategy", mode="lines",
                             line={"color": ACCENT, "width": 1.6}))
    fig.add_trace(go.Scatter(x=x, y=_array(equity["benchmark"]), name="Buy and hold",
                             mode="lines", line={"color": MUTED, "width": 1.2, "dash": "dot"}))
    fig.update_yaxes(title_text="Equity")
    return _style(fig, "Equity vs buy-and-hold")


def drawdown_figure(equity: Mapping[str, Any]) -> go.Figure:
    fig = go.Figure(go.Scatter(
        x=np.asarray(equity["timestamps"], dtype=np.int64), y=_array(equity["drawdown"]),
        name="Drawdown", mode="lines", fill="tozeroy", line={"color": DOWN, "width": 1},
        fillcolor="rgba(246,70,93,0.25)",
    ))
    return _style(fig, "Drawdown (underwater)", height=260, percent_y=True)


# --- Candles with trades --------------------------------------------------------------------
def _markers(trades: Sequence[Mapping[str, Any]], symbol: str) -> dict[str, list]:
    rows = [t for t in trades if t.get("symbol") in (symbol, "")][:MAX_MARKERS]
    return {
        "entry_x": [t["entry_time"] for t in rows],
        "entry_y": [t["entry_price"] for t in rows],
        "entry_text": [f"{t['side']} entry, size {t['size']:.6g}" for t in rows],
        "entry_symbol": ["triangle-up" if t["side"] == "long" else "triangle-down" for t in rows],
        "exit_x": [t["exit_time"] for t in rows if t["status"] == "closed"],
        "exit_y": [t["exit_price"] for t in rows if t["status"] == "closed"],
        "exit_text": [f"exit ({t['exit_reason']}), return {100 * (t['return'] or 0):+.2f}%"
                      for t in rows if t["status"] == "closed"],
    }


def candles_figure(bars: Bars, trades: Sequence[Mapping[str, Any]], symbol: str) -> go.Figure:
    """Candles (downsampled to at most MAX_CANDLES buckets) with entry and exit markers."""
    sampled = downsample_bars(bars, MAX_CANDLES) if len(bars) else None
    shown = sampled.bars if sampled is not None else bars
    fig = go.Figure(go.Candlestick(
        x=shown.timestamps, open=shown.open, high=shown.high, low=shown.low, close=shown.close,
        name=symbol, showlegend=False,
        increasing={"line": {"color": UP, "width": 1}, "fillcolor": UP},
        decreasing={"line": {"color": DOWN, "width": 1}, "fillcolor": DOWN},
    ))
    marks = _markers(trades, symbol)
    fig.add_trace(go.Scatter(
        x=marks["entry_x"], y=marks["entry_y"], text=marks["entry_text"], name="Entries",
        mode="markers", hoverinfo="text+y",
        marker={"symbol": marks["entry_symbol"], "size": 9, "color": WARN,
                "line": {"width": 1, "color": "#000"}},
    ))
    fig.add_trace(go.Scatter(
        x=marks["exit_x"], y=marks["exit_y"], text=marks["exit_text"], name="Exits",
        mode="markers", hoverinfo="text+y",
        marker={"symbol": "x", "size": 8, "color": "#c678dd"},
    ))
    title = f"{symbol}: trades"
    if sampled is not None and sampled.is_downsampled:
        title += f" (candles of {sampled.factor} bars)"
    fig.update_xaxes(rangeslider_visible=False)
    return _style(fig, title, height=460)


# --- Returns in time ------------------------------------------------------------------------
def monthly_heatmap_figure(time_analysis: Mapping[str, Any]) -> go.Figure:
    table = time_analysis.get("monthly", {}).get("table", {})
    years = sorted(table)
    z = [_array(table[y]) for y in years]
    text = [["" if np.isnan(v) else f"{100 * v:+.1f}%" for v in row] for row in z]
    limit = max((float(np.nanmax(np.abs(row))) for row in z if np.isfinite(row).any()),
                default=0.1)
    fig = go.Figure(go.Heatmap(
        z=z, x=list(MONTHS), y=years, text=text, texttemplate="%{text}", hoverinfo="skip",
        colorscale=[[0, DOWN], [0.5, "#1d2630"], [1, UP]], zmin=-limit, zmax=limit,
        showscale=False,
    ))
    fig.update_yaxes(type="category", autorange="reversed")
    return _style(fig, "Monthly returns", height=140 + 40 * max(1, len(years)),
                  date_axis=False)


def trade_histogram_figure(trades: Sequence[Mapping[str, Any]]) -> go.Figure:
    returns = [t["return"] for t in trades if t["status"] == "closed" and t["return"] is not None]
    fig = go.Figure(go.Histogram(x=returns, nbinsx=40, marker={"color": ACCENT},
                                 name="Trades"))
    fig.add_vline(x=0, line={"color": MUTED, "dash": "dot"})
    fig.update_xaxes(tickformat=".1%", title_text="Return per trade")
    fig.update_yaxes(title_text="Trades")
    return _style(fig, "Trade returns", height=300, date_axis=False)


def hour_weekday_figure(time_analysis: Mapping[str, Any]) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, column_widths=[0.65, 0.35], horizontal_spacing=0.08,
                        subplot_titles=("Mean bar return by hour (UTC)", "By weekday"))
    for col, key in ((1, "by_hour"), (2, "by_weekday")):
        section = time_analysis.get(key, {})
        values = _array(section.get("mean_return", []))
        labels = section.get("names") or [f"{i:02d}h" for i in range(len(values))]
        colours = np.where(np.nan_to_num(values) >= 0, UP, DOWN).tolist()
        fig.add_trace(go.Bar(x=labels, y=values, marker={"color": colours}, showlegend=False,
                             customdata=section.get("bars"),
                             hovertemplate="%{x}: %{y:.4%} (%{customdata} bars)<extra></extra>"),
                      row=1, col=col)
    fig.update_yaxes(tickformat=".3%")
    fig.update_xaxes(type="category")
    return _style(fig, "", height=300, date_axis=False)


# --- Monte Carlo ----------------------------------------------------------------------------
def monte_carlo_figure(mc: Mapping[str, Any]) -> go.Figure:
    fan = mc["fan"]
    x = mc["fan_steps"]
    fig = go.Figure()
    bands = (("p5", "p95", "5-95%", "rgba(79,163,255,0.15)"),
             ("p25", "p75", "25-75%", "rgba(79,163,255,0.30)"))
    for low, high, label, colour in bands:
        if low in fan and high in fan:
            fig.add_trace(go.Scatter(x=x, y=_array(fan[high]), mode="lines", showlegend=False,
                                     line={"width": 0}, hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=x, y=_array(fan[low]), mode="lines", name=label,
                                     fill="tonexty", fillcolor=colour, line={"width": 0}))
    if "p50" in fan:
        fig.add_trace(go.Scatter(x=x, y=_array(fan["p50"]), mode="lines", name="Median",
                                 line={"color": ACCENT, "width": 1.6}))
    fig.add_hline(y=1.0, line={"color": MUTED, "dash": "dot"})
    fig.update_xaxes(title_text="Trade number")
    fig.update_yaxes(title_text="Equity multiple")
    title = f"Monte Carlo: {mc['n_paths']:,} {mc['method']} paths of {mc['n_trades']} trades"
    return _style(fig, title, height=340, date_axis=False)


# --- Walk-forward ---------------------------------------------------------------------------
def walk_forward_figure(wf: Mapping[str, Any]) -> go.Figure:
    """Stitched out-of-sample equity over the test windows, and train vs test return per window."""
    fig = make_subplots(rows=2, cols=1, row_heights=[0.62, 0.38], vertical_spacing=0.14,
                        subplot_titles=("Out-of-sample equity (test windows chained)",
                                        "Annualised return per window"))
    oos = wf.get("oos_equity", {})
    fig.add_trace(go.Scatter(x=np.asarray(oos.get("timestamps", []), dtype=np.int64),
                             y=_array(oos.get("equity", [])), name="Out-of-sample equity",
                             mode="lines", line={"color": ACCENT, "width": 1.5}), row=1, col=1)
    windows = wf.get("windows", [])
    for i, window in enumerate(windows):
        times = window["test_times"]
        fig.add_vrect(x0=times["start_time"], x1=times["end_time"], row=1, col=1, layer="below",
                      line_width=0, fillcolor=PALETTE[i % len(PALETTE)], opacity=0.08)
    labels = [f"W{w['index'] + 1}" for w in windows]
    for key, name, colour in (("train_figures", "Train (in-sample)", MUTED),
                              ("test_figures", "Test (out-of-sample)", ACCENT)):
        values = _array([w[key].get("annualized_return") for w in windows])
        params = [", ".join(f"{k}={v}" for k, v in w["params"].items()) for w in windows]
        fig.add_trace(go.Bar(x=labels, y=values, name=name, marker={"color": colour},
                             customdata=params,
                             hovertemplate="%{x}: %{y:.1%}<br>%{customdata}<extra></extra>"),
                      row=2, col=1)
    _style(fig, "", height=500, date_axis=False)
    fig.update_layout(margin={"t": 70}, legend={"y": 1.16, "x": 0})
    fig.update_xaxes(type="date", row=1, col=1)
    fig.update_xaxes(type="category", row=2, col=1)
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    return fig


# --- Comparison -----------------------------------------------------------------------------
def compare_equity_figure(curves: Sequence[tuple[str, Mapping[str, Any]]]) -> go.Figure:
    """Equity curves of several sessions as returns since their start (cash may differ)."""
    fig = go.Figure()
    for i, (label, equity) in enumerate(curves):
        if not equity.get("timestamps"):
            continue
        initial = float(equity.get("initial_cash") or _array(equity["equity"])[0])
        fig.add_trace(go.Scatter(
            x=np.asarray(equity["timestamps"], dtype=np.int64),
            y=_array(equity["equity"]) / initial - 1.0, name=label, mode="lines",
            line={"color": PALETTE[i % len(PALETTE)], "width": 1.4},
        ))
    return _style(fig, "Equity curves (return since start)", height=420, percent_y=True)
