"""Performance, risk, trade and cost statistics: the one definition used everywhere.

Guarantees and conventions (the ones quantstats / empyrical-reloaded use, see
shared/data/README.md; cross-checked in the tests to 1e-9):
- returns are per bar: r_t = E_t / E_{t-1} - 1 with E_{-1} the initial cash;
- `periods` is bars per year on a 24/7 calendar (8760 for 1h, 365 for 1d);
- annualised return is the CAGR (E_n / E_0) ** (periods / n) - 1;
- volatility = std(r, ddof=1) * sqrt(periods); Sharpe = mean(r) / std(r, ddof=1)
  * sqrt(periods) with a zero risk-free rate;
- downside deviation = sqrt(mean(min(r, 0)^2)) over ALL periods (annualised by
  sqrt(periods)); Sortino = mean(r) / that (per period) * sqrt(periods);
- max drawdown counts the initial cash as a peak; it is <= 0; its duration is
  the longest run of bars spent below the running peak;
- Calmar = annualised return / |max drawdown|;
- VaR 95 is the 5th percentile of bar returns (linear interpolation), CVaR the
  mean of the returns at or below it (empyrical's partition convention);
- beta and correlation are against the buy-and-hold returns of the same bars;
- a ratio whose denominator is zero is NaN (None once made JSON-safe).
Report functions return JSON-safe dicts (no NaN, no numpy types).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from backtests.engine.serialization import json_safe
from backtests.engine.time_analysis import time_analysis

if TYPE_CHECKING:
    from backtests.engine.trades import TradesTable

VAR_LEVEL = 0.95
MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000


def returns_from_equity(equity: np.ndarray, initial: float) -> np.ndarray:
    """Per-bar returns, the first one measured against the initial cash."""
    equity = np.asarray(equity, dtype=np.float64)
    previous = np.empty_like(equity)
    previous[0] = initial
    previous[1:] = equity[:-1]
    return equity / previous - 1.0


def total_return(equity: np.ndarray, initial: float) -> float:
    return float(equity[-1] / initial - 1.0)


def annualized_return(equity: np.ndarray, initial: float, periods: float) -> float:
    """CAGR over len(equity) bars of a `periods`-per-year calendar."""
    growth = float(equity[-1] / initial)
    if growth <= 0:
        return -1.0
    try:
        return growth ** (periods / len(equity)) - 1.0
    except OverflowError:  # a short, explosive curve: the rate is not finite
        return math.inf


def volatility(returns: np.ndarray, periods: float) -> float:
    if len(returns) < 2:
        return math.nan
    return float(np.std(returns, ddof=1) * math.sqrt(periods))


def sharpe_ratio(returns: np.ndarray, periods: float) -> float:
    if len(returns) < 2:
        return math.nan
    std = float(np.std(returns, ddof=1))
    return float(np.mean(returns)) / std * math.sqrt(periods) if std > 0 else math.nan


def downside_deviation(returns: np.ndarray, periods: float = 1.0) -> float:
    """sqrt(mean(min(r, 0)^2)) over all periods, times sqrt(periods)."""
    downside = np.minimum(returns, 0.0)
    return float(np.sqrt(np.mean(downside * downside)) * math.sqrt(periods))


def sortino_ratio(returns: np.ndarray, periods: float) -> float:
    per_period = downside_deviation(returns)
    if per_period <= 0:
        return math.nan
    return float(np.mean(returns)) / per_period * math.sqrt(periods)


def drawdown_curve(equity: np.ndarray, initial: float) -> np.ndarray:
    """E_t / running peak - 1 (<= 0), the initial cash counting as a peak."""
    peak = np.maximum.accumulate(np.maximum(np.asarray(equity, dtype=np.float64), initial))
    return equity / peak - 1.0


def max_drawdown(equity: np.ndarray, initial: float) -> float:
    return float(min(np.min(drawdown_curve(equity, initial)), 0.0))


def max_drawdown_duration(equity: np.ndarray, initial: float) -> int:
    """The longest run of consecutive bars below the running peak."""
    peak = np.maximum.accumulate(np.maximum(np.asarray(equity, dtype=np.float64), initial))
    under = equity < peak
    if not under.any():
        return 0
    edges = np.diff(np.concatenate(([0], under.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int(np.max(stops - starts))


def calmar_ratio(annual_return: float, drawdown: float) -> float:
    return annual_return / -drawdown if drawdown < 0 else math.nan


def value_at_risk(returns: np.ndarray, level: float = VAR_LEVEL) -> float:
    return float(np.percentile(returns, 100 * (1 - level)))


def conditional_value_at_risk(returns: np.ndarray, level: float = VAR_LEVEL) -> float:
    cutoff = int((len(returns) - 1) * (1 - level))
    return float(np.mean(np.partition(returns, cutoff)[: cutoff + 1]))


def beta_and_correlation(returns: np.ndarray, benchmark: np.ndarray) -> tuple[float, float]:
    """(beta, Pearson correlation) of `returns` against `benchmark` returns."""
    r = returns - returns.mean()
    b = benchmark - benchmark.mean()
    variance = float(np.mean(b * b))
    beta = float(np.mean(r * b)) / variance if variance > 0 else math.nan
    denom = math.sqrt(float(np.mean(r * r)) * variance)
    correlation = float(np.mean(r * b)) / denom if denom > 0 else math.nan
    return beta, correlation


def buy_and_hold_equity(open_: np.ndarray, close: np.ndarray, initial: float) -> np.ndarray:
    """Equity of buying at the first bar's open and holding (no costs)."""
    return initial * np.asarray(close, dtype=np.float64) / float(open_[0])


def equity_statistics(
    equity: np.ndarray, initial: float, periods: float, *, bar_ms: int | None = None
) -> dict[str, float]:
    """Return/risk figures of one equity curve (plain floats, NaN possible)."""
    equity = np.asarray(equity, dtype=np.float64)
    returns = returns_from_equity(equity, initial)
    annual = annualized_return(equity, initial, periods)
    drawdown = max_drawdown(equity, initial)
    duration = max_drawdown_duration(equity, initial)
    return {
        "final_equity": float(equity[-1]),
        "total_return": total_return(equity, initial),
        "annualized_return": annual,
        "volatility": volatility(returns, periods),
        "sharpe": sharpe_ratio(returns, periods),
        "sortino": sortino_ratio(returns, periods),
        "calmar": calmar_ratio(annual, drawdown),
        "max_drawdown": drawdown,
        "max_drawdown_bars": float(duration),
        "max_drawdown_days": duration * bar_ms / MS_PER_DAY if bar_ms else math.nan,
        "var_95": value_at_risk(returns),
        "cvar_95": conditional_value_at_risk(returns),
        "downside_deviation": downside_deviation(returns, periods),
    }


def _streak(wins: np.ndarray) -> int:
    best = run = 0
    for w in wins:
        run = run + 1 if w else 0
        best = max(best, run)
    return best


def trade_statistics(trades: TradesTable, bar_ms: int) -> dict[str, float]:
    """Figures of the closed trades (open trades are only counted)."""
    closed = ~trades.is_open
    pnl, ret, held = trades.pnl[closed], trades.returns[closed], trades.bars_held[closed]
    wins, losses = pnl > 0, pnl < 0
    gross_win, gross_loss = float(pnl[wins].sum()), float(pnl[losses].sum())
    any_closed = len(pnl) > 0
    nan = math.nan
    return {
        "trades": float(len(pnl)),
        "open_trades": float(np.count_nonzero(trades.is_open)),
        "long_trades": float(np.count_nonzero(trades.direction[closed] == 0)),
        "short_trades": float(np.count_nonzero(trades.direction[closed] == 1)),
        "win_rate": float(wins.mean()) if any_closed else nan,
        "profit_factor": gross_win / -gross_loss if gross_loss < 0 else nan,
        "expectancy": float(pnl.mean()) if any_closed else nan,
        "avg_trade_return": float(ret.mean()) if any_closed else nan,
        "best_trade_return": float(ret.max()) if any_closed else nan,
        "worst_trade_return": float(ret.min()) if any_closed else nan,
        "avg_win_return": float(ret[wins].mean()) if wins.any() else nan,
        "avg_loss_return": float(ret[losses].mean()) if losses.any() else nan,
        "largest_win": float(pnl.max()) if wins.any() else nan,
        "largest_loss": float(pnl.min()) if losses.any() else nan,
        "max_consecutive_wins": float(_streak(wins)),
        "max_consecutive_losses": float(_streak(losses)),
        "avg_hold_bars": float(held.mean()) if any_closed else nan,
        "longest_hold_bars": float(held.max()) if any_closed else nan,
        "avg_hold_hours": float(held.mean()) * bar_ms / MS_PER_HOUR if any_closed else nan,
        "longest_hold_hours": float(held.max()) * bar_ms / MS_PER_HOUR if any_closed else nan,
    }


def cost_statistics(trades: TradesTable) -> dict[str, float]:
    """Fees and slippage paid; fees as a % of the P&L before fees (when that is positive)."""
    fees = float(trades.fees.sum())
    slippage = float(trades.slippage.sum())
    notional = float(trades.entry_value.sum() + trades.exit_value.sum())
    gross = float(trades.pnl.sum()) + fees
    return {
        "total_fees": fees,
        "fees_pct_of_gross_profit": 100.0 * fees / gross if gross > 0 else math.nan,
        "slippage_paid": slippage,
        "avg_slippage_pct": 100.0 * slippage / notional if notional > 0 else math.nan,
        "turnover": notional,
    }


def backtest_report(
    *,
    timestamps: np.ndarray,
    equity: np.ndarray,
    initial_cash: float,
    periods: float,
    bar_ms: int,
    benchmark_equity: np.ndarray,
    in_market: np.ndarray,
    trades: TradesTable,
) -> dict[str, Any]:
    """The full statistics of one backtest, JSON-safe, in sections."""
    figures = equity_statistics(equity, initial_cash, periods, bar_ms=bar_ms)
    returns = returns_from_equity(equity, initial_cash)
    bench_returns = returns_from_equity(benchmark_equity, initial_cash)
    beta, correlation = beta_and_correlation(returns, bench_returns)
    trade_figures = trade_statistics(trades, bar_ms)
    bench = equity_statistics(benchmark_equity, initial_cash, periods, bar_ms=bar_ms)
    performance_keys = ("final_equity", "total_return", "annualized_return", "sharpe", "sortino",
                        "calmar", "max_drawdown", "max_drawdown_bars", "max_drawdown_days")
    performance = {k: figures[k] for k in performance_keys}
    performance.update(
        win_rate=trade_figures["win_rate"],
        profit_factor=trade_figures["profit_factor"],
        expectancy=trade_figures["expectancy"],
        exposure=float(np.mean(in_market)),
        bars=float(len(equity)),
    )
    risk = {k: figures[k] for k in ("volatility", "var_95", "cvar_95", "downside_deviation")}
    risk.update(beta=beta, correlation=correlation)
    benchmark_keys = ("total_return", "annualized_return", "sharpe", "max_drawdown")
    return json_safe(
        {
            "performance": performance,
            "risk": risk,
            "trades": trade_figures,
            "costs": cost_statistics(trades),
            "benchmark": {k: bench[k] for k in benchmark_keys},
            "time_analysis": time_analysis(timestamps, equity, initial_cash),
        }
    )


def flat_figures(report: Mapping[str, Any]) -> dict[str, Any]:
    """The numeric sections of a report merged into one mapping (for tables and sorting)."""
    flat: dict[str, Any] = {}
    for section in ("performance", "risk", "trades", "costs"):
        flat.update(report[section])
    return flat
