"""The whole kernel with every agent on real BTC 1h bars: books, records, determinism."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest

from tests.market_data import load_bars
from trading.engine.agents import STANDALONE_AGENTS
from trading.engine.events import DecisionEvent, FillEvent
from trading.engine.kernel import KernelConfig, KernelOrderEvent, run_event_backtest
from trading.engine.market import Bars
from trading.engine.risk_profiles import MarketStats, RiskProfile


def session_config(bars: Bars, tolerance: str = "moderate") -> KernelConfig:
    stats = MarketStats.from_bars(bars.slice(0, 500))
    return KernelConfig(
        session_id="btc-2022",
        symbols=("BTCUSDT",),
        timeframe="1h",
        capital=10_000.0,
        profile=RiskProfile.derive(tolerance, 10_000.0, stats, symbols=["BTCUSDT"]),
    )


@pytest.fixture(scope="module")
def year():
    bars = load_bars("BTCUSDT", "1h", start="2022-01-01", end="2023-01-01")
    return bars, run_event_backtest({"BTCUSDT": bars}, session_config(bars))


def test_a_year_with_every_agent_ends_with_reconciled_books(year):
    # given 2022 replayed tick by tick through the kernel with all agents voting
    bars, result = year
    state = result.portfolio
    # then cash + positions == initial + realised P&L - fees, and the exchange agrees
    basis = sum((p.cost_basis for p in state.positions), Decimal(0))
    assert state.cash + basis == state.initial_cash + state.realized_pnl - state.fees
    held = sum((p.quantity for p in state.positions), Decimal(0))
    assert result.balances["USDT"] == state.cash
    assert result.balances.get("BTC", Decimal(0)) == held
    fees = sum((f.fee for f in result.fills), Decimal(0))
    assert fees == state.fees
    # and every candle was decided on and marked
    assert result.candles == len(bars) == len(result.equity)
    assert len([e for e in result.events if isinstance(e, DecisionEvent)]) == len(bars)
    marked = state.cash + held * Decimal(str(bars.close[-1]))
    assert result.final_equity == pytest.approx(float(marked))


def test_each_closed_trade_carries_its_entry_context_and_outcome(year):
    _, result = year
    assert len(result.trades) >= 5
    for trade in result.trades:
        context = trade.entry_context
        assert {s["agent"] for s in context["signals"]} == set(STANDALONE_AGENTS)
        assert context["regime"]["label"] in ("BULL", "BEAR", "SIDEWAYS")
        assert context["decision"]["action"] == "TRAIL_BUY" and context["reasoning"]
        assert "rsi" in context["indicators"]["momentum"]
        assert context["market"]["close"] > 0
        assert trade.outcome in ("big_win", "win", "breakeven", "loss", "big_loss")
        assert trade.max_adverse_excursion <= 0 <= trade.max_favourable_excursion
        assert trade.hold_ms > 0 and trade.net_pnl == trade.realized_pnl - trade.fees
        assert trade.best_exit_price >= float(trade.entry_price)


def test_every_order_is_traced_from_creation_to_its_end(year):
    _, result = year
    final: dict[str, KernelOrderEvent] = {}
    for event in result.events:
        if isinstance(event, KernelOrderEvent):
            final[event.client_order_id] = event
    assert final
    assert {e.history[0][2] for e in final.values()} == {"PENDING"}
    terminal = Counter(e.status for e in final.values())
    assert set(terminal) <= {"FILLED", "CANCELLED", "EXPIRED", "REJECTED"}
    filled = {f.client_order_id for f in result.fills}
    assert filled <= set(final)


def test_the_same_inputs_give_the_same_event_log():
    # given the first quarter of 2022 and an aggressive session
    bars = load_bars("BTCUSDT", "1h", start="2022-01-01", end="2022-04-01")
    config = session_config(bars, "aggressive")
    # when it is replayed twice
    first = run_event_backtest({"BTCUSDT": bars}, config)
    second = run_event_backtest({"BTCUSDT": bars}, config)
    # then every event is identical, details included
    assert len(first.events) > len(bars) * 5
    assert [repr(e) for e in first.events] == [repr(e) for e in second.events]


def test_batch_and_incremental_agents_make_the_same_decisions():
    # given the same session with the agents' batch forms instead of their incremental ones
    bars = load_bars("BTCUSDT", "1h", start="2022-01-01", end="2022-03-01")
    config = session_config(bars, "aggressive")
    fast = run_event_backtest({"BTCUSDT": bars}, config)
    slow = run_event_backtest({"BTCUSDT": bars}, replace(config, incremental_agents=False))
    # then every decision and every fill is the same
    def decisions(result):
        return [(e.ts_ms, e.action, e.reasoning) for e in result.events
                if isinstance(e, DecisionEvent)]

    def fills(result):
        return [(f.ts_ms, f.side, f.quantity, f.price) for f in result.events
                if isinstance(f, FillEvent)]

    assert decisions(fast) == decisions(slow)
    assert fills(fast) == fills(slow) and fills(fast)


def test_two_symbols_trade_side_by_side_with_the_correlation_agent_voting():
    # given BTC and ETH replayed together, each with every agent (peers for correlation)
    btc = load_bars("BTCUSDT", "1h", start="2022-01-01", end="2022-03-01")
    eth = load_bars("ETHUSDT", "1h", start="2022-01-01", end="2022-03-01")
    stats = MarketStats.from_bars(btc.slice(0, 500))
    config = KernelConfig(
        session_id="pair", symbols=("BTCUSDT", "ETHUSDT"), timeframe="1h", capital=10_000.0,
        profile=RiskProfile.derive("aggressive", 10_000.0, stats, symbols=["BTCUSDT", "ETHUSDT"]),
    )
    # when the kernel runs over both
    result = run_event_backtest({"BTCUSDT": btc, "ETHUSDT": eth}, config)
    # then each symbol was decided on every candle, correlation found its peer, books reconcile
    decided = Counter(e.symbol for e in result.events if isinstance(e, DecisionEvent))
    assert decided == {"BTCUSDT": len(btc), "ETHUSDT": len(eth)}
    late = [e for e in result.events if isinstance(e, DecisionEvent)][-200:]
    correlation = [s for e in late for s in e.details["vote"]["signals"]
                   if s["agent"] == "correlation"]
    assert any("z_ETHUSDT" in s["details"] or "z_BTCUSDT" in s["details"] for s in correlation)
    state = result.portfolio
    basis = sum((p.cost_basis for p in state.positions), Decimal(0))
    assert state.cash + basis == state.initial_cash + state.realized_pnl - state.fees
    assert state.positions == () and result.balances["USDT"] == state.cash
    traded = {f.symbol for f in result.fills}
    assert traded == {"BTCUSDT", "ETHUSDT"}
    assert all(result.balances[s.removesuffix("USDT")] == 0 for s in traded)
