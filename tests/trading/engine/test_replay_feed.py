"""Replay feed, intra-bar paths and the clocks."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.market_data import load_bars
from trading.engine.clock import ClockError, SimulatedClock, SystemClock, utc_day
from trading.engine.feeds import Candle, Feed, ReplayFeed, Tick, intrabar_path
from trading.engine.market import Bars

H = 3_600_000


def small_bars(n: int = 5, timeframe: str = "1h", step: int = H) -> Bars:
    ts = 1_700_000_000_000 - 1_700_000_000_000 % step + np.arange(n) * step
    close = 100.0 + np.arange(n, dtype=float)
    return Bars.from_arrays(
        ts,
        close - 0.5,
        close + 1,
        close - 1,
        close,
        np.full(n, 40.0),
        symbol="BTC",
        timeframe=timeframe,
    )


def test_it_replays_closed_candles_at_their_close_time_and_moves_the_clock():
    # given five bars and a simulated clock
    bars, clock = small_bars(), SimulatedClock()
    feed = ReplayFeed(bars, clock)
    assert isinstance(feed, Feed) and len(feed) == 5
    # when replayed
    seen = []
    for event in feed:
        seen.append((event, clock.now_ms()))
    # then each candle is emitted once, at its close, with the clock already there
    assert [e.open_ms for e, _ in seen] == list(bars.timestamps)  # type: ignore[union-attr]
    assert all(now == e.ts_ms == e.open_ms + H for e, now in seen)  # type: ignore[union-attr]
    assert all(isinstance(e, Candle) for e, _ in seen)


def test_candles_carry_the_real_bar_values():
    bars = load_bars("BTCUSDT", "1h", start="2021-11-10", end="2021-11-11")
    candles = list(ReplayFeed(bars, SimulatedClock()))
    peak = max(candles, key=lambda c: c.high)
    assert 68_000 < peak.high < 69_100 and peak.open_ms == bars.timestamps[int(bars.high.argmax())]
    assert [c.close for c in candles] == list(bars.close)


def test_with_an_intrabar_path_ticks_precede_each_candle_in_time_order():
    bars, clock = small_bars(3), SimulatedClock()
    events = list(ReplayFeed(bars, clock, path="OLHC"))
    kinds = ["T" if isinstance(e, Tick) else "C" for e in events]
    assert kinds == ["T", "T", "T", "T", "C"] * 3
    times = [e.ts_ms for e in events]
    assert times == sorted(times) and clock.now_ms() == times[-1]
    first_bar = [e.price for e in events[:4]]  # type: ignore[union-attr]
    assert first_bar == [99.5, 99.0, 101.0, 100.0]  # open, low, high, close


def test_auto_path_visits_the_extreme_nearest_the_open_first():
    up = Candle("X", "1h", 0, 100.0, 110.0, 95.0, 108.0, 8.0)
    down = Candle("X", "1h", 0, 100.0, 110.0, 95.0, 96.0, 8.0)
    assert [t.price for t in intrabar_path(up)] == [100.0, 95.0, 110.0, 108.0]
    assert [t.price for t in intrabar_path(down)] == [100.0, 110.0, 95.0, 96.0]
    assert sum(t.volume for t in intrabar_path(up)) == 8.0
    assert [t.ts_ms for t in intrabar_path(up)] == [0, H // 3, 2 * H // 3, H]


def test_a_window_replays_only_its_bars():
    bars = small_bars(10)
    feed = ReplayFeed(bars, SimulatedClock(), start=3, stop=6)
    assert [c.open_ms for c in feed] == list(bars.timestamps[3:6])  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        ReplayFeed(bars, SimulatedClock(), start=8, stop=4)


def test_as_fast_as_possible_never_sleeps():
    slept: list[float] = []
    list(ReplayFeed(small_bars(), SimulatedClock(), sleep=slept.append))
    assert slept == []


def test_a_speed_factor_paces_events_against_the_wall_clock():
    # given a wall clock that only moves when the feed sleeps
    wall = [0.0]

    def sleep(seconds: float) -> None:
        wall[0] += seconds

    feed = ReplayFeed(
        small_bars(5), SimulatedClock(), speed=3600.0, sleep=sleep, wall_clock=lambda: wall[0]
    )
    # when five hourly bars replay at 3600x (one market hour per second)
    arrivals = []
    for _ in feed:
        arrivals.append(wall[0])
    # then they arrive one wall second apart
    assert arrivals == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])


def test_real_time_pacing_takes_real_time():
    # given 1m bars replayed 1200x faster than real time: 50 ms per bar
    bars = small_bars(4, timeframe="1m", step=60_000)
    started = time.monotonic()
    list(ReplayFeed(bars, SimulatedClock(), speed=1200.0))
    elapsed = time.monotonic() - started
    # then three bar intervals (the first is emitted at once) take about 150 ms
    assert 0.14 <= elapsed < 1.0


def test_a_clock_already_past_the_data_refuses_to_go_back():
    bars = small_bars()
    clock = SimulatedClock(int(bars.timestamps[-1]) + 10 * H)
    with pytest.raises(ClockError, match="cannot go back"):
        next(iter(ReplayFeed(bars, clock)))


def test_clocks():
    clock = SimulatedClock(1_000)
    clock.advance_by(500)
    clock.advance_to(1_500)
    assert clock.now_ms() == 1_500
    with pytest.raises(ClockError):
        clock.advance_by(-1)
    now = SystemClock().now_ms()
    assert abs(now - time.time() * 1000) < 1_000
    assert utc_day(86_400_000 * 3 + 5) == 3
