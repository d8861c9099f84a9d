"""Plotly figures of a trading session, built server-side as plain figure dicts.

Guarantees: `price_figure` shows only candles the session has processed (a
replay never reveals its future), with the grid levels (the session's grid as
of its last step; without a grid, faintly, the levels its profile's self-tuned
spacing would use around the last price), trailing orders (fired triggers as
markers, working ones as dashed lines) and every fill in the window (buys
up-triangles, sells down-triangles). `equity_figure` shows equity and its
drawdown. Times are epoch milliseconds on a date axis (UTC). Plain dicts
rather than `graph_objects`: the page refreshes them live and validation
would cost more than the figure.
"""

from __future__ import annotations

import json
from typing import Any

from trading.engine.market import timeframe_ms
from trading.engine.orders.grid import MAX_SPACING, MIN_SPACING, Grid
from trading.models import FillRecord, TradingSession, TrailingRecord
from trading.selectors import candle_arrays
from trading.session_selectors import equity_points, session_symbols, working_trailing

UP, DOWN, GOLD, BLUE = "#2ebd85", "#f6465d", "#f0b90b", "#4fa3ff"
WINDOW_BARS = 200
GRID_LEVELS_PER_SIDE = 4
LAYOUT = {
    "template": "plotly_dark", "paper_bgcolor": "#171d24", "plot_bgcolor": "#0f1419",
    "font": {"color": "#d7dde4", "size": 12}, "margin": {"l": 60, "r": 20, "t": 30, "b": 30},
    "hovermode": "x unified", "showlegend": True,
    "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0,
               "bgcolor": "rgba(0,0,0,0)"},
}


def chart_symbol(session: TradingSession, requested: str | None) -> str | None:
    symbols = session_symbols(session)
    if requested in symbols:
        return requested
    return symbols[0] if symbols else None


def price_figure(session: TradingSession, symbol: str, *, bars: int = WINDOW_BARS) -> dict[str, Any]:
    instrument = session.instruments.filter(symbol=symbol).first()
    last = _last_processed(session, symbol)
    data: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    if instrument is not None and last is not None:
        span = timeframe_ms(session.timeframe)
        window = candle_arrays(instrument, session.timeframe,
                               start_ms=last - (bars - 1) * span, end_ms=last + 1)
        if len(window):
            close_times = window.timestamps + span
            data.append({
                "type": "candlestick", "name": symbol, "x": close_times.tolist(),
                "open": window.open.tolist(), "high": window.high.tolist(),
                "low": window.low.tolist(), "close": window.close.tolist(), "showlegend": False,
                "increasing": {"line": {"color": UP, "width": 1}, "fillcolor": UP},
                "decreasing": {"line": {"color": DOWN, "width": 1}, "fillcolor": DOWN},
            })
            first_ms = int(close_times[0])
            shapes += _grid_shapes(session, symbol, float(window.close[-1]))
            data += _fill_traces(session, symbol, first_ms)
            data += _trailing_traces(session, symbol, first_ms)
            shapes += _working_trailing_shapes(session, symbol)
    layout = {**LAYOUT, "height": 460, "shapes": shapes, "uirevision": f"{session.pk}:{symbol}",
              "xaxis": {"type": "date", "rangeslider": {"visible": False}},
              "yaxis": {"title": {"text": "Price"}}}
    return {"data": data, "layout": layout}


def _last_processed(session: TradingSession, symbol: str) -> int | None:
    state = ((session.checkpoint or {}).get("symbols") or {}).get(symbol) or {}
    return state.get("last_candle_ms", session.last_candle_ms)


def _grid_shapes(session: TradingSession, symbol: str, price: float) -> list[dict[str, Any]]:
    """The session's grid levels (active ones brighter); for a session without a grid, the
    levels its risk profile's self-tuned spacing would use, faintly."""
    state = (session.grid_state or {}).get(symbol)
    if state:
        active = set(state.get("active") or ())
        return [_level_line(float(price_), side, 0.9 if index in active else 0.35)
                for index, price_, side, _ in state.get("levels", ()) if index != 0]
    spacing = ((session.config or {}).get("profile") or {}).get("grid_spacing")
    if not spacing or price <= 0:
        return []
    grid = Grid.build(price, min(MAX_SPACING, max(MIN_SPACING, float(spacing))),
                      GRID_LEVELS_PER_SIDE)
    return [_level_line(float(level.price), level.side.value, 0.2)
            for level in grid.levels if level.index != 0]


def _level_line(price: float, side: str, opacity: float) -> dict[str, Any]:
    return {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": price,
            "y1": price, "opacity": opacity,
            "line": {"color": UP if side == "BUY" else DOWN, "width": 1, "dash": "dot"}}


def _fill_traces(session: TradingSession, symbol: str, since_ms: int) -> list[dict[str, Any]]:
    fills = list(FillRecord.objects.filter(session=session, symbol=symbol, ts_ms__gte=since_ms)
                 .order_by("ts_ms").values_list("ts_ms", "side", "price", "quantity"))
    traces = []
    for side, colour, marker in (("BUY", UP, "triangle-up"), ("SELL", DOWN, "triangle-down")):
        rows = [f for f in fills if f[1] == side]
        if rows:
            traces.append({
                "type": "scatter", "mode": "markers", "name": f"{side.lower()} fills",
                "x": [r[0] for r in rows], "y": [float(r[2]) for r in rows],
                "text": [f"{side} {r[3].normalize()} @ {r[2].normalize()}" for r in rows],
                "hoverinfo": "text+x",
                "marker": {"symbol": marker, "size": 11, "color": colour,
                           "line": {"color": "#ffffff", "width": 1}},
            })
    return traces


def _trailing_traces(session: TradingSession, symbol: str, since_ms: int) -> list[dict[str, Any]]:
    fired = list(TrailingRecord.objects.filter(
        session=session, symbol=symbol, ts_ms__gte=since_ms, trigger_price__isnull=False,
        status="TRIGGERED").order_by("ts_ms").values_list("ts_ms", "trigger_price", "purpose"))
    if not fired:
        return []
    return [{
        "type": "scatter", "mode": "markers", "name": "trailing triggers",
        "x": [r[0] for r in fired], "y": [r[1] for r in fired],
        "text": [f"{r[2]} trigger {r[1]:.2f}" for r in fired], "hoverinfo": "text+x",
        "marker": {"symbol": "x", "size": 9, "color": GOLD},
    }]


def _working_trailing_shapes(session: TradingSession, symbol: str) -> list[dict[str, Any]]:
    return [
        {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
         "y0": t.trigger_price, "y1": t.trigger_price,
         "line": {"color": GOLD, "width": 1.5, "dash": "dash"}}
        for t in working_trailing(session) if t.symbol == symbol and t.trigger_price
    ]


def equity_figure(session: TradingSession) -> dict[str, Any]:
    points = equity_points(session)
    x = [p.ts_ms for p in points]
    data = [
        {"type": "scatter", "mode": "lines", "name": "equity", "x": x,
         "y": [float(p.equity) for p in points], "line": {"color": BLUE, "width": 1.6}},
        {"type": "scatter", "mode": "lines", "name": "drawdown", "x": x, "yaxis": "y2",
         "y": [-p.drawdown * 100 for p in points], "fill": "tozeroy",
         "line": {"color": DOWN, "width": 1}, "fillcolor": "rgba(246,70,93,0.2)"},
    ]
    layout = {**LAYOUT, "height": 260, "uirevision": f"equity:{session.pk}",
              "xaxis": {"type": "date"},
              "yaxis": {"title": {"text": "Equity"}, "domain": [0.35, 1]},
              "yaxis2": {"title": {"text": "DD %"}, "domain": [0, 0.28]}}
    return {"data": data, "layout": layout}


def session_charts_json(session: TradingSession, symbol: str | None) -> str:
    chosen = chart_symbol(session, symbol)
    price = price_figure(session, chosen) if chosen else {"data": [], "layout": LAYOUT}
    return json.dumps({"symbol": chosen, "price": price, "equity": equity_figure(session)})
