"""Bad data never trades: the feed guard."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.market_data import load_bars
from trading.engine.clock import SimulatedClock
from trading.engine.feed_guard import FeedGuard, FeedGuardConfig
from trading.engine.feeds import Candle, Tick, intrabar_path

H = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % H


def candle(i: int = 0, o=100.0, h=101.0, lo=99.0, c=100.5, v=10.0, open_ms=None) -> Candle:
    return Candle("BTC", "1h", T0 + i * H if open_ms is None else open_ms, o, h, lo, c, v)


def guard(**config) -> FeedGuard:
    return FeedGuard(SimulatedClock(T0), FeedGuardConfig(**config))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (candle(1, o=math.nan), "open nan"),
        (candle(1, c=0.0), "close 0.0"),
        (candle(1, lo=-1.0), "low -1.0"),
        (candle(1, v=-5.0), "volume -5.0"),
        (candle(1, v=math.inf), "volume inf"),
        (candle(1, h=99.5), "inconsistent OHLC"),
        (candle(1, lo=100.6), "inconsistent OHLC"),
        (candle(1, open_ms=T0 + H + 1), "not on the 1h grid"),
        (candle(0), "does not come after"),
        (candle(1, o=120.0, h=121.0, c=120.5), "implausible gap"),
        (candle(1, o=100.0, h=400.0, c=350.0), "implausible close"),
    ],
)
def test_malformed_or_out_of_order_candles_are_rejected(bad, reason):
    # given a guard that accepted one good candle
    g = guard()
    assert g.check_candle(candle(0)).accepted
    # when a bad one arrives, then it is rejected with a reason naming the problem
    verdict = g.check_candle(bad)
    assert not verdict.accepted and reason in verdict.reason
    assert verdict.consecutive_rejects == 1 and not verdict.pause


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (Tick("BTC", T0 + 2, math.nan), "not a positive finite"),
        (Tick("BTC", T0 + 2, 0.0), "not a positive finite"),
        (Tick("BTC", T0 + 2, -3.0), "not a positive finite"),
        (Tick("BTC", T0 + 2, 100.0, volume=math.nan), "volume"),
        (Tick("BTC", T0 - 1, 100.0), "goes back"),
        (Tick("BTC", T0 + 2, 1_000.0), "implausible price move of +900.0%"),
        (Tick("BTC", T0 + 2, 10.0), "implausible price move of -90.0%"),
    ],
)
def test_bad_ticks_are_rejected(bad, reason):
    g = guard()
    assert g.check_tick(Tick("BTC", T0, 100.0)).accepted
    verdict = g.check_tick(bad)
    assert not verdict.accepted and reason in verdict.reason


def test_a_rejected_print_does_not_move_the_reference_price():
    # given a decimal-shift print rejected after a good price
    g = guard()
    g.check_tick(Tick("BTC", T0, 100.0))
    assert not g.check_tick(Tick("BTC", T0 + 1, 10_000.0)).accepted
    # when the next good price arrives, then it is judged against the last good one
    assert g.check_tick(Tick("BTC", T0 + 2, 101.0)).accepted


def test_stale_data_is_rejected_against_the_clock():
    clock = SimulatedClock(T0 + 10 * H)
    g = FeedGuard(clock, FeedGuardConfig(max_age_ms=2 * H))
    assert "stale" in g.check_candle(candle(5)).reason  # closed 4h ago
    assert g.check_candle(candle(8)).accepted  # closed 1h ago
    fresh = FeedGuard(clock, FeedGuardConfig(max_age_ms=2 * H))
    assert "stale" in fresh.check_tick(Tick("BTC", T0 + 7 * H, 100.0)).reason
    assert fresh.check_tick(Tick("BTC", T0 + 9 * H, 100.0)).accepted


def test_a_feed_that_stays_bad_asks_for_a_pause_and_good_data_clears_it():
    g = guard(pause_after=3)
    g.check_tick(Tick("BTC", T0, 100.0))
    verdicts = [g.check_tick(Tick("BTC", T0 + i, math.nan)) for i in range(1, 4)]
    assert [(v.consecutive_rejects, v.pause) for v in verdicts] == [
        (1, False),
        (2, False),
        (3, True),
    ]
    assert g.check_tick(Tick("BTC", T0 + 5, 100.2)).accepted
    assert g.consecutive_rejects("BTC") == 0


def test_symbols_are_judged_separately():
    g = guard()
    g.check_tick(Tick("BTC", T0 + 10, 30_000.0))
    assert g.check_tick(Tick("ETH", T0, 2_000.0)).accepted


def test_real_data_passes_and_injected_corruption_is_caught_exactly():
    # given a year of real SOL (the most volatile) replayed with intra-bar ticks, and
    # five corrupted bars: NaN close, 10x price, negative low, repeated time, high < low
    bars = load_bars("SOLUSDT", "1h", start="2021-01-01", end="2022-01-01")
    corrupt = {500: "nan", 1500: "x10", 2500: "neg", 4000: "dup", 6000: "hl"}
    g = guard()
    rejected = []
    for i in range(len(bars)):
        c = Candle.from_bars(bars, i)
        kind = corrupt.get(i)
        if kind == "nan":
            c = Candle(c.symbol, c.timeframe, c.open_ms, c.open, c.high, c.low, np.nan, c.volume)
        elif kind == "x10":
            c = Candle(
                c.symbol,
                c.timeframe,
                c.open_ms,
                c.open * 10,
                c.high * 10,
                c.low * 10,
                c.close * 10,
                c.volume,
            )
        elif kind == "neg":
            c = Candle(c.symbol, c.timeframe, c.open_ms, c.open, c.high, -c.low, c.close, c.volume)
        elif kind == "dup":
            c = Candle.from_bars(bars, i - 1)
        elif kind == "hl":
            c = Candle(c.symbol, c.timeframe, c.open_ms, c.open, c.low, c.high, c.close, c.volume)
        ticks = intrabar_path(c) if kind is None else []
        # when every tick and candle goes through the guard
        for event in [*ticks, c]:
            check = g.check_tick if isinstance(event, Tick) else g.check_candle
            if not check(event).accepted:  # type: ignore[arg-type]
                rejected.append(i)
    # then exactly the corrupted bars were refused, no real move was mistaken for bad data
    assert rejected == sorted(corrupt)
