"""Detect strategies whose signals peek at future bars.

Guarantees: the strategy's signals are computed once on all the bars, then
again on the bars truncated at many cut points (random, seeded, always
including the last two bars). A strategy that only uses bars 0..t for its
value at t gives identical values on every common bar; any value that
differs (entries, exits, short signals, size, stops, extras; NaN equals NaN;
exact comparison unless `tolerance` is given) is lookahead, reported with the
field, the bar and the cut point. A failed check means the strategy must not
be promoted. Cut points leave at least `min_bars` bars so warm-up-heavy
strategies still produce signals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtests.engine.serialization import json_safe
from trading.engine.market import Bars
from trading.engine.strategy import Signals, Strategy

FIELDS = ("entries", "exits", "short_entries", "short_exits", "size", "sl_stop", "tp_stop",
          "tsl_stop")


@dataclass(frozen=True)
class Offence:
    field: str
    bar: int  # first bar (index) whose value changed
    timestamp: int
    cut: int  # number of bars the truncated run saw
    changed_bars: int  # how many bars of this field changed at this cut


@dataclass(frozen=True)
class LookaheadReport:
    strategy: str
    params: Mapping[str, Any]
    passed: bool
    cut_points: tuple[int, ...]
    offences: tuple[Offence, ...]

    @property
    def offending_bars(self) -> list[int]:
        return sorted({o.bar for o in self.offences})

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "strategy": self.strategy,
            "params": dict(self.params),
            "passed": self.passed,
            "cut_points": list(self.cut_points),
            "offences": [o.__dict__ for o in self.offences],
        })


def _values(signals: Signals, name: str, n: int) -> np.ndarray | None:
    value = signals.extras.get(name[len("extras."):]) if name.startswith("extras.") else getattr(
        signals, name)
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64)
    return np.full(n, float(array)) if array.ndim == 0 else array


def _changed(full: np.ndarray | None, part: np.ndarray | None, cut: int, tolerance: float,
             ) -> np.ndarray:
    if full is None and part is None:
        return np.zeros(0, dtype=np.int64)
    if full is None or part is None:
        return np.arange(cut)
    a, b = full[:cut], part[:cut]
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if tolerance > 0:
        same |= np.abs(a - b) <= tolerance
    return np.flatnonzero(~same)


def _cut_points(n: int, n_cuts: int, min_bars: int, seed: int) -> list[int]:
    if n - 1 <= min_bars:
        raise ValueError(f"lookahead check needs more than {min_bars + 1} bars, got {n}")
    rng = np.random.default_rng(seed)
    span = np.arange(min_bars, n - 1)
    picks = rng.choice(span, size=min(n_cuts, len(span)), replace=False)
    return sorted({int(c) for c in picks} | {n - 2, n - 1})


def check_lookahead(
    strategy: Strategy,
    bars: Bars,
    params: Mapping[str, Any] | None = None,
    *,
    n_cuts: int = 30,
    min_bars: int = 50,
    seed: int = 0,
    tolerance: float = 0.0,
) -> LookaheadReport:
    """Recompute `strategy`'s signals on bars truncated at `n_cuts` random points."""
    checked = strategy.param_space.validate(params or {})
    full = strategy.signals(bars, checked)
    names = FIELDS + tuple(f"extras.{k}" for k in sorted(full.extras))
    reference = {name: _values(full, name, len(bars)) for name in names}
    cuts = _cut_points(len(bars), n_cuts, min_bars, seed)
    offences = []
    for cut in cuts:
        part = strategy.signals(bars.slice(0, cut), checked)
        for name in names:
            changed = _changed(reference[name], _values(part, name, cut), cut, tolerance)
            if len(changed):
                bar = int(changed[0])
                offences.append(Offence(name, bar, int(bars.timestamps[bar]), cut, len(changed)))
    return LookaheadReport(
        strategy=strategy.name,
        params=checked,
        passed=not offences,
        cut_points=tuple(cuts),
        offences=tuple(offences),
    )
