"""The compiled per-genome simulation gives every column exactly what the backtest engine gives."""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.engine.config import BacktestConfig
from backtests.engine.sizing import Sizing
from evolution.engine.simulation import simulate_batch, simulate_columns
from tests.market_data import load_bars
from trading.engine.market import Bars
from trading.engine.strategy import Signals

N_BARS = 240


@functools.lru_cache(maxsize=1)
def real_bars() -> Bars:
    """Real BTC 1h bars: gaps, spikes and trends, so stops and fills are exercised."""
    return load_bars("BTCUSDT", "1h", start="2022-05-01", end="2022-06-01").slice(0, N_BARS)


def _assert_same(batch, reference) -> None:
    """Each column of `simulate_batch` equals `simulate_columns`' bit for bit."""
    for index, expected in enumerate(reference):
        if isinstance(expected, Exception):
            error = batch.errors[index]
            assert (type(error), str(error)) == (type(expected), str(expected))
        else:
            assert index not in batch.errors
            assert np.array_equal(batch.returns[index], expected.returns)
            assert batch.trades[index] == expected.trades
            assert batch.turnover[index] == expected.turnover


FIELD = st.sampled_from(["none", "scalar", "array"])


@st.composite
def batches(draw):
    """A window, a config and columns of one signal shape (the way evaluation batches them)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = N_BARS
    shorts = draw(st.booleans())
    kinds = {name: draw(FIELD) for name in ("sl_stop", "tp_stop", "tsl_stop")}
    kinds["size"] = draw(st.sampled_from(["none", "array"]))  # `Signals.size` is per bar
    density = draw(st.sampled_from([0.01, 0.05, 0.3]))

    def flags() -> np.ndarray:
        return rng.random(n) < density

    def values(kind: str, low: float, high: float) -> np.ndarray | float | None:
        if kind == "none":
            return None
        if kind == "scalar":
            return float(rng.uniform(low, high))
        out = rng.uniform(low, high, n)
        out[rng.random(n) < 0.3] = np.nan
        return out

    columns = []
    for _ in range(draw(st.integers(1, 5))):
        tsl = values(kinds["tsl_stop"], 0.005, 0.05)
        sl = values(kinds["sl_stop"], 0.005, 0.05)
        if tsl is not None and sl is not None:  # one stop-loss slot: keep them apart
            sl = np.where(np.isnan(tsl), sl, np.nan) if np.ndim(tsl) else None
        columns.append(Signals(
            entries=flags(), exits=flags(),
            short_entries=flags() if shorts else None, short_exits=flags() if shorts else None,
            size=values(kinds["size"], 0.05, 1.0), sl_stop=sl,
            tp_stop=values(kinds["tp_stop"], 0.005, 0.08), tsl_stop=tsl,
        ))
    stop_loss = draw(st.sampled_from([None, 0.03]))
    config = BacktestConfig(
        allow_short=draw(st.booleans()),
        close_at_end=draw(st.booleans()),
        sizing=draw(st.sampled_from([Sizing(), Sizing.fraction(0.5), Sizing.cash(3000.0),
                                     Sizing.units(0.1)])),
        sl_stop=stop_loss,
        tsl_stop=None if stop_loss is not None else draw(st.sampled_from([None, 0.04])),
        tp_stop=draw(st.sampled_from([None, 0.06])),
    )
    start = draw(st.sampled_from([0, 1, 50]))
    stop = draw(st.sampled_from([n, n - 30]))
    return [Signals(**{f: (v[:stop] if isinstance(v, np.ndarray) else v)
                       for f, v in vars(c).items() if f != "extras"}) for c in columns], \
        (start, stop), config


@settings(max_examples=150, deadline=None)
@given(batches())
def test_every_column_matches_the_backtest_engine(case):
    # given: random signals of one shape, random costs, stops, sizing and window
    columns, window, config = case
    bars = real_bars()

    # when
    batch = simulate_batch(bars, window, columns, config)

    # then: bit for bit the engine's returns, trades, turnover and errors
    _assert_same(batch, simulate_columns(bars, window, columns, config))


def test_refused_signals_fail_alone_with_the_engines_error():
    # given: a valid column, a size above 100%, a stop-loss and a trailing stop on one bar
    bars = real_bars()
    n = len(bars)
    rng = np.random.default_rng(3)
    entries, exits = rng.random(n) < 0.05, rng.random(n) < 0.05
    good = Signals(entries=entries, exits=exits, size=np.full(n, 0.5), sl_stop=0.02)
    oversized = Signals(entries=entries, exits=exits, size=np.full(n, 1.5), sl_stop=0.02)
    both = Signals(entries=entries, exits=exits, size=np.full(n, 0.5), sl_stop=0.02,
                   tsl_stop=np.full(n, 0.03))

    # when
    batch = simulate_batch(bars, (0, n), [good, oversized, both], BacktestConfig())

    # then
    assert set(batch.errors) == {1, 2}
    assert str(batch.errors[1]).startswith("Signals.size must be a fraction")
    assert "both sl_stop and tsl_stop" in str(batch.errors[2])
    _assert_same(batch, simulate_columns(bars, (0, n), [good, oversized, both],
                                         BacktestConfig()))


def test_a_size_granularity_with_stops_is_refused_like_the_engine_does():
    # given
    bars = real_bars()
    n = len(bars)
    rng = np.random.default_rng(4)
    plain = Signals(entries=rng.random(n) < 0.05, exits=rng.random(n) < 0.05)
    config = BacktestConfig(sizing=Sizing.units(0.1, granularity=0.001), sl_stop=0.02)

    # when
    batch = simulate_batch(bars, (0, n), [plain], config)

    # then
    assert "granularity cannot be combined with stop orders" in str(batch.errors[0])
    without_stops = BacktestConfig(sizing=Sizing.units(0.1, granularity=0.001))
    _assert_same(simulate_batch(bars, (0, n), [plain], without_stops),
                 simulate_columns(bars, (0, n), [plain], without_stops))


def test_genomes_sharing_a_sizing_and_stop_array_each_get_the_engines_result():
    # given: three genomes, two of them holding the same per-bar size and stop arrays (one
    # sizing block), the third its own, all with their own entries and exits
    bars = real_bars()
    n = len(bars)
    rng = np.random.default_rng(5)
    shared_size, shared_stop = rng.uniform(0.1, 1.0, n), rng.uniform(0.01, 0.05, n)
    shared_stop[rng.random(n) < 0.3] = np.nan
    columns = [Signals(entries=rng.random(n) < 0.08, exits=rng.random(n) < 0.08,
                       size=size, sl_stop=stop)
               for size, stop in ((shared_size, shared_stop), (rng.uniform(0.1, 1.0, n),
                                  rng.uniform(0.01, 0.05, n)), (shared_size, shared_stop))]

    # when
    batch = simulate_batch(bars, (20, n), columns, BacktestConfig())

    # then: each genome trades on its own signals, exactly as the engine has it
    assert batch.trades.min() > 0
    assert not np.array_equal(batch.returns[0], batch.returns[2])
    _assert_same(batch, simulate_columns(bars, (20, n), columns, BacktestConfig()))


def test_a_genome_that_never_signals_is_flat_and_untraded():
    # given
    bars = real_bars()
    n = len(bars)
    idle = Signals(entries=np.zeros(n, bool), exits=np.zeros(n, bool))

    # when
    batch = simulate_batch(bars, (10, n), [idle], BacktestConfig(close_at_end=False))

    # then
    assert batch.trades[0] == 0 and batch.turnover[0] == 0.0
    assert not batch.returns[0].any()
