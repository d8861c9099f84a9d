"""What the backtest pages show: statistics tables, figures, trade pages, sortable columns.

Guarantees: built only from the stored session and result (plus the session's
candles for the trade chart); labels and units of every statistic live here
so that the detail page, the comparison and the admin read them alike.
Figures are Plotly JSON strings (see `charts.py`), keyed by a DOM-safe id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator

from backtests import charts
from backtests.comparison import comparison_rows
from backtests.models import BacktestResult, BacktestSession
from backtests.selectors import backtest_result_get, ms
from backtests.session_run import SIMULATORS
from trading.selectors import candle_arrays

log = logging.getLogger(__name__)

TRADES_PAGE_SIZE = 50
MAX_CANDLE_CHARTS = 4
SECTION_TITLES = (("performance", "Performance"), ("risk", "Risk"), ("trades", "Trades"),
                  ("costs", "Costs"), ("benchmark", "Buy-and-hold benchmark"))
# statistic -> (label, unit); units are formatted by the `metric` template filter.
STATISTICS: dict[str, tuple[str, str]] = {
    "final_equity": ("Final equity", "money"),
    "total_return": ("Total return", "pct"),
    "annualized_return": ("Annualised return (CAGR)", "pct"),
    "sharpe": ("Sharpe", "ratio"),
    "sortino": ("Sortino", "ratio"),
    "calmar": ("Calmar", "ratio"),
    "max_drawdown": ("Max drawdown", "pct"),
    "max_drawdown_bars": ("Max drawdown duration (bars)", "count"),
    "max_drawdown_days": ("Max drawdown duration", "days"),
    "win_rate": ("Win rate", "pct"),
    "profit_factor": ("Profit factor", "ratio"),
    "expectancy": ("Expectancy (per trade)", "money"),
    "exposure": ("Exposure (time in market)", "pct"),
    "bars": ("Bars", "count"),
    "volatility": ("Volatility (annualised)", "pct"),
    "var_95": ("VaR 95 (per bar)", "pct"),
    "cvar_95": ("CVaR 95 (per bar)", "pct"),
    "downside_deviation": ("Downside deviation (annualised)", "pct"),
    "beta": ("Beta to buy-and-hold", "ratio"),
    "correlation": ("Correlation to buy-and-hold", "ratio"),
    "trades": ("Closed trades", "count"),
    "open_trades": ("Open trades", "count"),
    "long_trades": ("Long trades", "count"),
    "short_trades": ("Short trades", "count"),
    "avg_trade_return": ("Average trade", "pct"),
    "best_trade_return": ("Best trade", "pct"),
    "worst_trade_return": ("Worst trade", "pct"),
    "avg_win_return": ("Average win", "pct"),
    "avg_loss_return": ("Average loss", "pct"),
    "largest_win": ("Largest win", "money"),
    "largest_loss": ("Largest loss", "money"),
    "max_consecutive_wins": ("Most consecutive wins", "count"),
    "max_consecutive_losses": ("Most consecutive losses", "count"),
    "avg_hold_bars": ("Average hold (bars)", "count"),
    "longest_hold_bars": ("Longest hold (bars)", "count"),
    "avg_hold_hours": ("Average hold", "hours"),
    "longest_hold_hours": ("Longest hold", "hours"),
    "total_fees": ("Fees paid", "money"),
    "fees_pct_of_gross_profit": ("Fees as % of gross profit", "pct100"),
    "slippage_paid": ("Slippage paid", "money"),
    "avg_slippage_pct": ("Average slippage", "pct100"),
    "turnover": ("Turnover", "money"),
}
LIST_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("total_return", "Return", "pct"), ("annualized_return", "CAGR", "pct"),
    ("sharpe", "Sharpe", "ratio"), ("sortino", "Sortino", "ratio"),
    ("max_drawdown", "Max DD", "pct"), ("win_rate", "Win rate", "pct"),
    ("profit_factor", "PF", "ratio"), ("trade_count", "Trades", "count"),
)


SIGNED_METRICS = ("total_return", "annualized_return")  # coloured green/red by sign
STATUS_FILTERS = (("", "All"), *BacktestSession.Status.choices)
MAX_LIVE_GROUPS = 20  # the websocket accepts at most 20 groups


@dataclass(frozen=True)
class Figure:
    id: str
    json: str
    wide: bool = True


def stat_rows(section: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, value in section.items():
        if isinstance(value, dict | list):
            continue
        label, unit = STATISTICS.get(key, (key.replace("_", " ").capitalize(), "ratio"))
        rows.append({"key": key, "label": label, "value": value, "unit": unit})
    return rows


def stat_tables(statistics: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "title": title, "rows": stat_rows(statistics[key])}
            for key, title in SECTION_TITLES if key in statistics]


def list_columns(sort: str) -> list[dict[str, Any]]:
    """Sortable metric columns: the sort parameter a click asks for, and the current order."""
    out = []
    for key, label, unit in LIST_COLUMNS:
        current = "desc" if sort == f"-{key}" else "asc" if sort == key else ""
        out.append({"key": key, "label": label, "unit": unit, "current": current,
                    "next": key if current == "desc" else f"-{key}",
                    "signed": key in SIGNED_METRICS or key == "max_drawdown"})
    return out


def trades_page(session: BacktestSession, number: Any,
                result: BacktestResult | None = None) -> Page | None:
    result = result or backtest_result_get(session)
    if result is None:
        return None
    return Paginator(result.trades, TRADES_PAGE_SIZE).get_page(number)


def _figure(figure_id: str, build: Callable[..., Any], *args: Any,
            wide: bool = True) -> Figure | None:
    """The figure, or None when a stored section lacks what it needs (a result stored by an
    older version, a section skipped): the page shows what it can instead of failing."""
    try:
        return Figure(figure_id, charts.figure_json(build(*args)), wide)
    except (KeyError, TypeError, ValueError, IndexError):
        log.warning("figure %s not drawn from the stored result", figure_id, exc_info=True)
        return None


def _candle_figures(session: BacktestSession, result: BacktestResult) -> list[Figure]:
    figures = []
    for instrument in list(session.instruments.all())[:MAX_CANDLE_CHARTS]:
        bars = candle_arrays(instrument, session.timeframe, start_ms=ms(session.start),
                             end_ms=ms(session.end))
        figure = _figure(f"candles-{instrument.pk}", charts.candles_figure, bars,
                         result.trades, instrument.symbol)
        if figure is not None:
            figures.append(figure)
    return figures


def _ran(section: dict[str, Any]) -> bool:
    return bool(section) and not section.get("skipped")


def result_figures(session: BacktestSession, result: BacktestResult) -> dict[str, Any]:
    """Figure JSON of every chart the stored result supports, by section."""
    return {
        "equity": _figure("equity", charts.equity_figure, result.equity),
        "drawdown": _figure("drawdown", charts.drawdown_figure, result.equity),
        "candles": _candle_figures(session, result),
        "monthly": _figure("monthly", charts.monthly_heatmap_figure, result.time_analysis),
        "histogram": _figure("trade-returns", charts.trade_histogram_figure, result.trades,
                             wide=False),
        "hours": _figure("hours", charts.hour_weekday_figure, result.time_analysis),
        "monte_carlo": _figure("monte-carlo", charts.monte_carlo_figure, result.monte_carlo)
        if _ran(result.monte_carlo) else None,
        "walk_forward": _figure("walk-forward", charts.walk_forward_figure, result.walk_forward)
        if _ran(result.walk_forward) else None,
    }


def live_groups(sessions: Sequence[BacktestSession]) -> str:
    """Websocket groups of the unfinished sessions shown (their status updates live)."""
    unfinished = [f"backtest.{s.pk}" for s in sessions if not s.is_finished]
    return ",".join(unfinished[:MAX_LIVE_GROUPS])


def live_state(session: BacktestSession) -> dict[str, Any]:
    return {"pk": session.pk, "status": session.status, "progress": session.progress,
            "progress_message": session.progress_message, "is_finished": session.is_finished}


def analyses_note(kind: str) -> str:
    """What the walk-forward and splits cards say about how a session of `kind` optimised."""
    simulator = SIMULATORS.get(kind)
    return simulator.analyses_note if simulator is not None else ""


def detail_context(session: BacktestSession) -> dict[str, Any]:
    result = backtest_result_get(session) if session.status == "completed" else None
    context: dict[str, Any] = {"session": session, "live": live_state(session),
                               "result": result, "instruments": list(session.instruments.all())}
    if result is not None:
        context.update(
            figures=result_figures(session, result),
            stat_tables=stat_tables(result.statistics),
            headline=[{"key": key, "label": label, "value": getattr(session, key), "unit": unit,
                       "signed": key in SIGNED_METRICS} for key, label, unit in LIST_COLUMNS],
            instrument_stats=result.statistics.get("instruments", {}),
            trades=trades_page(session, 1, result),
            analyses_note=analyses_note(session.kind),
        )
    return context


def compare_context(sessions: Sequence[BacktestSession]) -> dict[str, Any]:
    curves = [(f"#{s.pk} {s.name}", s.result.equity) for s in sessions
              if s.status == "completed" and getattr(s, "result", None) is not None]
    figure = charts.figure_json(charts.compare_equity_figure(curves)) if curves else ""
    return {"sessions": sessions, "rows": comparison_rows(sessions), "equity_json": figure}
