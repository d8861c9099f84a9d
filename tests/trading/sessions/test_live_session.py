"""A live session against a local server that answers like Binance (klines, orders, account):
it polls the market, sends real orders, and a worker killed between sending and committing
never makes it send an order twice."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from tests.fake_exchange import Market
from tests.fake_exchange_orders import FakeBinanceSpot
from tests.market_data import load_bars
from tests.trading.sessions.conftest import step
from trading.models import Candle, OrderRecord, SessionAlert, TradingSession
from trading.services.accounts import exchange_account_create
from trading.services.sessions import session_create, session_start

HOUR_MS = 3_600_000
KEY, SECRET = "live-test-key-0123456789abcdef", "live-test-secret-0123456789abcdef"


class WorkerKilled(BaseException):
    pass


def _crash_on_checkpoint_write(execute, sql, params, many, context):
    if sql.startswith('UPDATE "trading_tradingsession"') and '"checkpoint" =' in sql:
        raise WorkerKilled()
    return execute(sql, params, many, context)


class Market24h:
    """The fake exchange's market: `advance(hours)` closes that many more real 1h bars."""

    def __init__(self, fake: FakeBinanceSpot, served_until_ms: int) -> None:
        self.fake = fake
        self.bars = load_bars("BTCUSDT", "1h", start="2023-01-01", end="2023-04-01")
        self.until = served_until_ms
        self._serve()

    def _serve(self) -> None:
        stop = int((self.bars.timestamps < self.until).sum())
        self.fake.serve_candles("BTCUSDT", self.bars.slice(0, stop))
        self.fake.now_ms = self.until  # the close of the last served bar: none is partial
        self.fake.prices["BTCUSDT"] = self.fake.prices["BTCUSDT"].__class__(
            repr(float(self.bars.close[stop - 1])))

    def advance(self, hours: int) -> None:
        self.until += hours * HOUR_MS
        self._serve()


@pytest.fixture
def market(btc, settings):
    last_stored = btc.candles.order_by("-open_time").first().open_time
    with FakeBinanceSpot(now_ms=last_stored + HOUR_MS, markets=[Market("BTC", "USDT")],
                         balances={"USDT": "10000"}, prices={"BTCUSDT": "22000"}) as fake:
        settings.ORGANISM_EXCHANGE_URLS = fake.base_url
        settings.ORGANISM_LIVE_TRADING = True
        settings.ORGANISM_FETCH_RETRY_BASE_S = 0.01
        settings.ORGANISM_FETCH_RETRY_MAX_S = 0.05
        settings.ORGANISM_CCXT_RATE_LIMIT_MS = 1  # a local server needs no request spacing
        # the exchange is 12 hours ahead of what the database holds: a start catches up
        yield Market24h(fake, last_stored + 13 * HOUR_MS)


def test_a_live_session_polls_the_market_and_trades_each_order_once(market, btc):
    # given: a confirmed live session with keys
    account = exchange_account_create(exchange=btc.exchange, label="live", api_key=KEY,
                                      api_secret=SECRET)
    session = session_create(name="Live", instruments=[btc], capital=10_000, mode="live",
                             risk_profile="aggressive", exchange_account=account,
                             confirm_live=True)
    session = session_start(session=session, confirm_live=True)
    # when: it starts (catching up on 12 closed hours without trading) ...
    first = step(session)
    stored = Candle.objects.filter(instrument=btc).order_by("-open_time").first().open_time
    # ... then every step is killed once before its commit and run again by another worker
    for _ in range(24):
        market.advance(hours=6)
        with connection.execute_wrapper(_crash_on_checkpoint_write), pytest.raises(WorkerKilled):
            step(session, worker="doomed")
        TradingSession.objects.filter(pk=session.pk).update(lease_until=None, claimed_by="")
        assert step(session, worker="survivor").outcome == "stepped"
    # then: the start traded nothing on the caught-up bars
    assert first.candles == 0 and stored == market.until - HOUR_MS - 24 * 6 * HOUR_MS
    # and orders went to the exchange, each client order id exactly once
    sent = Counter(o["clientOrderId"] for o in market.fake.orders)
    assert sent, "the session must trade for this test to mean anything"
    assert max(sent.values()) == 1
    journal = set(OrderRecord.objects.filter(session=session).values_list(
        "client_order_id", flat=True))
    assert set(sent) <= journal
    assert not OrderRecord.objects.filter(session=session, status="PENDING").exists()
    assert SessionAlert.objects.filter(session=session, key__startswith="reconcile:",
                                       message__contains="found at the exchange").exists()
    # and the keys went to the exchange (as a header), never into the journal
    assert KEY in market.fake.api_keys_seen
    assert all(KEY not in str(o.history) for o in OrderRecord.objects.filter(session=session))
