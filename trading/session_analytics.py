"""Session analytics from the journal: performance, each agent's record, execution quality.

Read-only and computed from journal rows (trades, equity marks, orders,
fills), so they are the same whether the session ran in one go or resumed
after crashes. Returns plain dicts of JSON-ready numbers (None when there is
nothing to measure yet).
"""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal
from typing import Any

import numpy as np

from trading.engine.market import periods_per_year
from trading.models import EquitySnapshot, OrderRecord, TradeRecord, TradingSession


def _f(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def performance(session: TradingSession) -> dict[str, Any]:
    trades = list(TradeRecord.objects.filter(session=session).order_by("closed_ms"))
    net = [float(t.net_pnl) for t in trades]
    wins = [p for p in net if p > 0]
    losses = [p for p in net if p <= 0]
    equity = np.array([float(e) for e in EquitySnapshot.objects.filter(session=session)
                       .order_by("ts_ms").values_list("equity", flat=True)], dtype=np.float64)
    capital = float(session.capital)
    final = float(session.equity) if session.equity is not None else capital
    outcomes: dict[str, int] = defaultdict(int)
    for trade in trades:
        outcomes[trade.outcome] += 1
    return {
        "capital": capital,
        "equity": final,
        "net_pnl": final - capital,
        "return": final / capital - 1.0,
        "realized_pnl": _f(session.realized_pnl),
        "trades": len(trades),
        "win_rate": len(wins) / len(trades) if trades else None,
        "profit_factor": (sum(wins) / -sum(losses)) if losses and sum(losses) < 0 else None,
        "average_win": sum(wins) / len(wins) if wins else None,
        "average_loss": sum(losses) / len(losses) if losses else None,
        "best_trade": max(net) if net else None,
        "worst_trade": min(net) if net else None,
        "fees": sum(float(t.fees) for t in trades),
        "average_hold_hours": (sum(t.hold_ms for t in trades) / len(trades) / 3_600_000
                               if trades else None),
        "max_drawdown": _max_drawdown(equity),
        "sharpe": _sharpe(equity, session.timeframe),
        "outcomes": dict(outcomes),
    }


def _max_drawdown(equity: np.ndarray) -> float | None:
    if len(equity) < 2:
        return None
    peaks = np.maximum.accumulate(equity)
    return float(np.max(1.0 - equity / peaks))


def _sharpe(equity: np.ndarray, timeframe: str) -> float | None:
    if len(equity) < 3:
        return None
    returns = np.diff(equity) / equity[:-1]
    std = float(np.std(returns, ddof=1))
    if std == 0 or not math.isfinite(std):
        return None
    return float(np.mean(returns) / std * math.sqrt(periods_per_year(timeframe)))


def agent_performance(session: TradingSession) -> list[dict[str, Any]]:
    """Per agent, over closed trades: how often it backed the entry, and how those trades did."""
    stats: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "signals": 0, "backed": 0, "backed_wins": 0, "backed_pnl": 0.0, "confidence_sum": 0.0})
    for trade in TradeRecord.objects.filter(session=session).only("net_pnl", "entry_context"):
        for signal in (trade.entry_context or {}).get("signals", []):
            row = stats[signal["agent"]]
            row["signals"] += 1
            row["confidence_sum"] += float(signal.get("confidence") or 0.0)
            if signal.get("action") == "TRAIL_BUY" and (signal.get("confidence") or 0) > 0:
                row["backed"] += 1
                row["backed_wins"] += int(trade.net_pnl > 0)
                row["backed_pnl"] += float(trade.net_pnl)
    from trading.session_selectors import agent_states

    result = []
    for state in agent_states(session):
        row = stats.get(state["name"], {"signals": 0, "backed": 0, "backed_wins": 0,
                                        "backed_pnl": 0.0, "confidence_sum": 0.0})
        result.append({
            **state,
            "trades_seen": row["signals"],
            "trades_backed": row["backed"],
            "backed_win_rate": row["backed_wins"] / row["backed"] if row["backed"] else None,
            "backed_pnl": row["backed_pnl"],
            "average_confidence": row["confidence_sum"] / row["signals"] if row["signals"] else None,
        })
    return result


def execution_quality(session: TradingSession) -> dict[str, Any]:
    """Slippage against the price each order was placed at, time to fill, and refusals."""
    orders = list(OrderRecord.objects.filter(session=session).prefetch_related("fills"))
    slippage_bps: list[float] = []
    fill_seconds: list[float] = []
    counts: dict[str, int] = defaultdict(int)
    maker = taker = 0
    fees = Decimal(0)
    for order in orders:
        counts[order.status] += 1
        fills = list(order.fills.all())
        for fill in fills:
            fees += fill.fee
            maker += fill.liquidity == "MAKER"
            taker += fill.liquidity == "TAKER"
            if order.reference_price and order.purpose != "take_profit":
                sign = 1.0 if order.side == "BUY" else -1.0
                moved = (float(fill.price) - order.reference_price) / order.reference_price
                slippage_bps.append(sign * moved * 10_000)
        submitted = next((h[0] for h in order.history if h[2] == "SUBMITTED"), None)
        if fills and submitted is not None:
            fill_seconds.append((min(f.ts_ms for f in fills) - submitted) / 1000)
    slip = np.array(slippage_bps)
    waits = np.array(fill_seconds)
    return {
        "orders": len(orders),
        "by_status": dict(counts),
        "rejected": counts.get("REJECTED", 0),
        "cancelled": counts.get("CANCELLED", 0),
        "expired": counts.get("EXPIRED", 0),
        "reject_rate": counts.get("REJECTED", 0) / len(orders) if orders else None,
        "fills": maker + taker,
        "maker_share": maker / (maker + taker) if maker + taker else None,
        "fees": float(fees),
        "slippage_bps_mean": float(slip.mean()) if len(slip) else None,
        "slippage_bps_median": float(np.median(slip)) if len(slip) else None,
        "slippage_bps_p95": float(np.percentile(slip, 95)) if len(slip) else None,
        "fill_seconds_mean": float(waits.mean()) if len(waits) else None,
        "fill_seconds_median": float(np.median(waits)) if len(waits) else None,
    }
