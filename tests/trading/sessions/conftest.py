"""Fixtures for trading-session tests: real BTC/USDT 1h candles in the database, and a Celery
app whose broker is in memory (steps scheduled by services are sent, never run or stored in
the shared Redis)."""

from __future__ import annotations

import pytest

from tests.factories import ExchangeFactory, InstrumentFactory, candles_create
from tests.market_data import load_bars
from trading.models import Instrument

# 2023-02-01 00:00 UTC: a month of bars before it warm the agents up
REPLAY_START_MS = 1_675_209_600_000
HOUR_MS = 3_600_000


@pytest.fixture(autouse=True)
def _celery_broker_in_memory():
    from organism.celery import app

    saved = app.conf.broker_url
    app.conf.broker_url = "memory://"
    app._pool = None
    app.amqp._producer_pool = None
    yield app
    app.conf.broker_url = saved
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def btc(db) -> Instrument:
    """BTC/USDT spot on binance with 2023-01-01 .. 2023-02-10 1h candles (960 bars)."""
    instrument = InstrumentFactory(
        exchange=ExchangeFactory(code="binance"), symbol="BTC/USDT", base="BTC", quote="USDT",
        tick_size="0.01", lot_size="0.00001", min_notional="5",
    )
    bars = load_bars("BTCUSDT", "1h", start="2023-01-01", end="2023-02-10")
    candles_create(instrument, bars)
    return instrument


@pytest.fixture
def eth(btc) -> Instrument:
    instrument = InstrumentFactory(
        exchange=btc.exchange, symbol="ETH/USDT", base="ETH", quote="USDT",
        tick_size="0.01", lot_size="0.0001", min_notional="5",
    )
    candles_create(instrument, load_bars("ETHUSDT", "1h", start="2023-01-01", end="2023-02-10"))
    return instrument


def make_session(instruments, **overrides):
    """A started paper replay session from 2023-02-01 (services, as the pages use them)."""
    from trading.services.sessions import session_create, session_start

    values = {"name": "Replay", "instruments": list(instruments), "capital": 10_000,
              "risk_profile": "aggressive", "replay_start_ms": REPLAY_START_MS,
              "candles_per_step": 20}
    values.update(overrides)
    session = session_create(**values)
    return session_start(session=session)


def step(session, *, worker: str = "worker-1"):
    """One step of the loop, as if its due time had come."""
    from trading.models import TradingSession
    from trading.services.session_loop import session_step

    TradingSession.objects.filter(pk=session.pk).update(next_step_at=None)
    return session_step(session_id=session.pk, worker=worker, schedule=False)


def journal_snapshot(session) -> dict[str, list]:
    """Everything the journal holds for a session, without database ids or session keys."""
    from trading.models import (
        DecisionRecord,
        EquitySnapshot,
        FillRecord,
        OrderRecord,
        PositionRecord,
        SessionAlert,
        TradeRecord,
        TrailingRecord,
    )

    def rows(model, *fields):
        return sorted(model.objects.filter(session=session).values_list(*fields))

    return {
        "orders": rows(OrderRecord, "symbol", "side", "order_type", "purpose", "quantity",
                       "filled_quantity", "limit_price", "status", "created_ms", "updated_ms",
                       "history"),
        "fills": rows(FillRecord, "symbol", "side", "quantity", "price", "fee", "liquidity",
                      "ts_ms"),
        "trades": rows(TradeRecord, "symbol", "opened_ms", "closed_ms", "quantity", "net_pnl",
                       "fees", "outcome", "exit_reason", "max_adverse_excursion"),
        # agents' running sums after a restore differ from an unbroken run's in the 14th
        # digit (float accumulation order): confidences are compared to 9 digits
        "decisions": [(*row[:3], round(row[3], 9), row[4]) for row in rows(
            DecisionRecord, "symbol", "ts_ms", "action", "confidence", "reasoning")],
        "equity": rows(EquitySnapshot, "ts_ms", "equity", "cash", "drawdown", "state"),
        "trailing": rows(TrailingRecord, "symbol", "ts_ms", "status", "purpose", "trigger_price"),
        "alerts": rows(SessionAlert, "ts_ms", "kind", "breaker", "action", "message"),
        "positions": rows(PositionRecord, "symbol", "quantity", "average_entry", "realized_pnl"),
    }
