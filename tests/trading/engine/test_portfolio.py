"""Positions and cash accounting."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.engine.money import round_down, to_decimal
from trading.engine.orders import Fill, OrderSide
from trading.engine.portfolio import Portfolio

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fill(side: OrderSide, qty: str, price: str, fee: str = "0", ts: int = 0, symbol="BTC"):
    return Fill(f"o{ts}", symbol, side, D(qty), D(price), D(fee), ts)


def test_a_long_round_trip_books_average_entry_pnl_and_fees():
    book = Portfolio("10000")
    assert book.apply(fill(BUY, "1", "100", "0.1", ts=1)) is None
    assert book.apply(fill(BUY, "1", "110", "0.11", ts=2)) is None
    position = book.position("BTC")
    assert (position.quantity, position.average_entry, position.direction) == (D(2), D(105), "LONG")
    assert book.unrealized_pnl({"BTC": "120"}) == D(30)
    trade = book.apply(fill(SELL, "2", "120", "0.24", ts=5))
    assert trade is not None
    assert (trade.direction, trade.quantity, trade.average_entry, trade.average_exit) == (
        "LONG",
        D(2),
        D(105),
        D(120),
    )
    assert (trade.realized_pnl, trade.fees, trade.net_pnl) == (D(30), D("0.45"), D("29.55"))
    assert (trade.opened_ms, trade.closed_ms, trade.hold_ms) == (1, 5, 4)
    assert trade.return_fraction == D("29.55") / D(210)
    assert book.cash == D("10029.55") and not book.open_positions


def test_a_short_round_trip_profits_when_the_price_falls():
    book = Portfolio("1000")
    book.apply(fill(SELL, "2", "50", "0.1", ts=1))
    assert book.cash == D("1099.9") and book.position("BTC").direction == "SHORT"
    assert book.equity({"BTC": "40"}) == D("1019.9")
    trade = book.apply(fill(BUY, "2", "40", "0.08", ts=2))
    assert trade is not None and trade.direction == "SHORT"
    assert (trade.realized_pnl, trade.net_pnl) == (D(20), D("19.82"))
    assert book.cash == D("1019.82")


def test_partial_reduction_keeps_the_average_entry():
    book = Portfolio("1000")
    book.apply(fill(BUY, "3", "10"))
    assert book.apply(fill(SELL, "1", "13")) is None
    position = book.position("BTC")
    assert (position.quantity, position.average_entry, position.realized_pnl) == (D(2), D(10), D(3))
    assert book.realized_pnl == D(3)


def test_a_fill_through_zero_closes_the_trade_and_opens_the_other_side():
    # given a long of 1 at 100
    book = Portfolio("1000")
    book.apply(fill(BUY, "1", "100", "0.3", ts=1))
    # when 3 are sold at 110 with a fee of 0.9
    trade = book.apply(fill(SELL, "3", "110", "0.9", ts=2))
    # then the long closes (+10, with a third of the fee) and a short of 2 opens at 110
    assert trade is not None and trade.realized_pnl == D(10)
    assert trade.fees == D("0.3") + D("0.3")
    short = book.position("BTC")
    assert (short.quantity, short.average_entry, short.fees, short.opened_ms) == (
        D(-2),
        D(110),
        D("0.6"),
        2,
    )


def test_exposure_and_equity_across_symbols():
    book = Portfolio("10000")
    book.apply(fill(BUY, "1", "100", symbol="A"))
    book.apply(fill(SELL, "2", "50", symbol="B"))
    marks = {"A": "120", "B": "60"}
    assert book.gross_exposure(marks) == D(240)
    assert book.equity(marks) == D("10000") - 100 + 100 + 120 - 120
    assert book.unrealized_pnl(marks) == D(20) - D(20)


def test_snapshot_and_restore_give_back_the_same_books():
    book = Portfolio("5000")
    book.apply(fill(BUY, "1.5", "100", "0.2", ts=1))
    book.apply(fill(SELL, "0.5", "120", "0.1", ts=2))
    restored = Portfolio.restore(book.snapshot())
    assert restored.snapshot() == book.snapshot()
    assert restored.equity({"BTC": "90"}) == book.equity({"BTC": "90"})


# -- property: the books always reconcile ---------------------------------------------------

fills = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.sampled_from([BUY, SELL]),
        st.integers(1, 5_000),  # quantity in thousandths
        st.integers(1_000, 200_000),  # price in cents
        st.integers(0, 500),  # fee in cents
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(fills, st.integers(1_000, 200_000), st.integers(1_000, 200_000))
def test_cash_positions_pnl_and_fees_always_reconcile(steps, mark_a, mark_b):
    book = Portfolio("100000")
    cash_flows, fees, trades = D(0), D(0), []
    for ts, (symbol, side, qty, price, fee) in enumerate(steps):
        f = Fill(f"o{ts}", symbol, side, D(qty) / 1000, D(price) / 100, D(fee) / 100, ts)
        closed = book.apply(f)
        trades += [closed] if closed else []
        cash_flows -= f.quantity * f.price * side.sign + f.fee
        fees += f.fee
        # the cost-basis identity holds after every fill, exactly
        basis = sum((p.cost_basis for p in book.open_positions), D(0))
        assert book.cash + basis - book.realized_pnl + book.fees == book.initial_cash
    marks = {"A": D(mark_a) / 100, "B": D(mark_b) / 100}
    # cash is exactly the initial cash plus every fill's cash flow
    assert book.cash == book.initial_cash + cash_flows and book.fees == fees
    # equity = initial + realised - fees + unrealised, exactly
    expected = book.initial_cash + book.realized_pnl - book.fees + book.unrealized_pnl(marks)
    assert book.equity(marks) == expected
    # realised P&L is what the closed trades and the still-open positions realised
    realised_parts = sum((t.realized_pnl for t in trades), D(0)) + sum(
        (p.realized_pnl for p in book.open_positions), D(0)
    )
    assert realised_parts == book.realized_pnl
    # and when everything is flat, the cash change is exactly realised P&L minus fees
    if not book.open_positions:
        assert book.cash - book.initial_cash == book.realized_pnl - book.fees


def test_amounts_convert_to_decimal_from_their_shortest_repr_and_refuse_non_finite():
    assert to_decimal(0.1) == D("0.1") and to_decimal(np.float64(20_123.45)) == D("20123.45")
    assert to_decimal(np.int64(7)) == D(7) and to_decimal("1.50") == D("1.50")
    assert round_down(D("0.123456"), D("0.001")) == D("0.123")
    for bad in (float("nan"), float("inf"), np.float64("nan"), "NaN", True):
        with pytest.raises(ValueError):
            to_decimal(bad)
