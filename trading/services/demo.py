"""The demo paper session of a new installation.

`demo_session_ensure` (called by `organism_run`'s bootstrap after the sample
data is loaded) creates "Demo (replay)": a paper session replaying the sample
BTC/USDT 1h candles from 45 days before the last one, one candle a second,
so prices, agent votes, orders and P&L move within the first minute. It is
idempotent: an existing demo is left alone (restarted if it was stopped
before its replay ended).
The beat entry that resumes sessions whose worker died is created by `migrate`
(see TradingConfig.ready).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Count

from trading.models import Instrument, TradingSession
from trading.services.sessions import session_create, session_start

Say = Callable[[str], None]

DEMO_NAME = "Demo (replay)"
DEMO_SYMBOLS = ("BTC/USDT", "BTC-SYNTH/USDT")
DEMO_TIMEFRAME = "1h"
DEMO_REPLAY_DAYS = 45
DEMO_CADENCE_S = 1.0
DEMO_CAPITAL = 10_000
DEMO_MIN_BARS = 600
DEMO_WARM_UP_BARS = 250


def _demo_instrument() -> Instrument | None:
    candidates = (Instrument.objects.filter(candles__timeframe=DEMO_TIMEFRAME)
                  .annotate(bars=Count("candles")).filter(bars__gte=DEMO_MIN_BARS))
    for symbol in DEMO_SYMBOLS:
        found = candidates.filter(symbol=symbol, market_type=Instrument.MarketType.SPOT).first()
        if found is not None:
            return found
    return candidates.filter(market_type=Instrument.MarketType.SPOT).order_by("symbol").first()


def demo_session_ensure(*, say: Say) -> TradingSession | None:
    demo = TradingSession.objects.filter(is_demo=True).order_by("pk").first()
    if demo is not None:
        finished = demo.status_reason.startswith("replay finished")
        if demo.status == TradingSession.Status.STOPPED and not finished:
            session_start(session=demo)
            say(f"Demo paper session restarted: /trading/{demo.pk}/")
        return demo
    instrument = _demo_instrument()
    if instrument is None:
        say(f"No instrument with {DEMO_MIN_BARS} stored {DEMO_TIMEFRAME} candles: "
            "demo trading session skipped.")
        return None
    candles = instrument.candles.filter(timeframe=DEMO_TIMEFRAME)
    last = candles.order_by("-open_time").values_list("open_time", flat=True).first()
    first = candles.order_by("open_time").values_list("open_time", flat=True).first()
    # leave at least a week and a half of bars before the start to warm the agents up
    start = max(last - DEMO_REPLAY_DAYS * 86_400_000, first + DEMO_WARM_UP_BARS * 3_600_000)
    demo = session_create(
        name=DEMO_NAME, instruments=[instrument], capital=DEMO_CAPITAL,
        risk_profile=TradingSession.Tolerance.MODERATE, timeframe=DEMO_TIMEFRAME,
        source=TradingSession.Source.REPLAY, replay_start_ms=start,
        cadence_seconds=DEMO_CADENCE_S, candles_per_step=1, is_demo=True,
    )
    session_start(session=demo)
    say(f"Demo paper session started: {instrument} replayed from {DEMO_REPLAY_DAYS} days "
        f"before its last candle, one candle a second (/trading/{demo.pk}/).")
    return demo
