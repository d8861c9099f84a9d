"""Real-data datasets, a genome space and test seeds shared by the GA engine tests.

`CrashingSeed`, `PeekingSeed` and `ZeroSizing` are real `Seed` implementations
(one raises, one reads the next bar, one gives sizes the backtest engine
refuses) that tests register next to the 12 seeds, so genomes built from them
go through the whole evaluation path.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evolution.engine.datasets import Dataset, with_funding
from evolution.engine.operators import GenomeSpace
from evolution.engine.seeds import SEEDS, Seed
from tests.market_data import load_bars, load_funding
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace, Signals

FAST_SEEDS = tuple(name for name in SEEDS if name not in ("linear_svc_classifier",
                                                          "pca_tree_quantile"))


def ms(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").value // 1_000_000)


@functools.lru_cache(maxsize=8)
def real_bars(symbol: str, start: str, end: str, funding: bool = True) -> Bars:
    bars = load_bars(symbol, "1h", start=start, end=end)
    if funding and symbol in ("BTCUSDT", "ETHUSDT"):
        bars = with_funding(bars, *load_funding(symbol))
    return bars


@functools.lru_cache(maxsize=8)
def real_dataset(
    symbols: tuple[str, ...], start: str, end: str, *, funding: bool = True
) -> Dataset:
    """Each symbol's 1h bars over [start, end), all of them scored."""
    bars = [real_bars(s, start, end, funding) for s in symbols]
    key = f"test:{'+'.join(symbols)}:{start}:{end}:{funding}"
    return Dataset.from_bars(bars, key=key)


def fast_space(**options: Any) -> GenomeSpace:
    """Every seed but the two ML ones (they take ~0.3 s a call), in every slot it can fill."""
    return GenomeSpace.from_seeds(FAST_SEEDS, **options)


class CrashingSeed(Seed):
    """Raises on every call: a genome built on it must fail alone."""

    name = "crashing"
    title = "Crashing"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace((Param("period", "int", 10, 2, 50),))

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        raise FloatingPointError("the indicator blew up")


class PeekingSeed(Seed):
    """Buys when the NEXT close is more than `jump` higher: lookahead the checks must catch.

    Exits when the next close is lower. With a large `jump` the leaky entries are rare.
    """

    name = "peeking"
    title = "Peeking"
    role = "entry"
    roles = ("entry",)
    param_space = ParamSpace((Param("jump", "float", 0.0, 0.0, 0.05),))

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        entries = np.zeros(len(bars), dtype=bool)
        exits = np.zeros(len(bars), dtype=bool)
        entries[:-1] = bars.close[1:] > bars.close[:-1] * (1.0 + params["jump"])
        exits[:-1] = bars.close[1:] < bars.close[:-1] * (1.0 - params["jump"])
        return Signals(entries=entries, exits=exits)


class ZeroSizing(Seed):
    """Sizes every entry at 0% of equity, which the backtest engine refuses."""

    name = "zero_sizing"
    title = "Zero sizing"
    role = "sizing"
    roles = ("sizing",)
    param_space = ParamSpace((Param("unused", "int", 1, 1, 5),))

    def compute(self, bars: Bars, params: dict[str, Any]) -> Signals:
        nothing = np.zeros(len(bars), dtype=bool)
        return Signals(entries=nothing, exits=nothing, size=np.zeros(len(bars)))


@pytest.fixture
def extra_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the crashing, peeking and zero-sizing seeds for one test."""
    for seed in (CrashingSeed(), PeekingSeed(), ZeroSizing()):
        monkeypatch.setitem(SEEDS, seed.name, seed)
