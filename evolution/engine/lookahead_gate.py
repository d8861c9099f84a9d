"""The GA's lookahead gate: truncation cuts aimed right after the bars where signals fire.

Why aimed cuts: a strategy that peeks k bars ahead only betrays itself at a
cut c when one of its values in the last k bars before c depends on the
removed bars. With random cuts, a leaky entry that fires on 2% of bars is
missed by almost every cut. Cutting at t + 1 for a bar t where a signal fires
removes exactly the future such a signal could have used: an honest signal
survives the cut, a leaky one (usually) vanishes.

Why a pool: a cut's cost grows with its position (signals are recomputed on
bars [0, cut)), and leaks in code do not care where they are, so the GA draws
its aimed cuts among the first few firing bars of each signal (cheap), while
the last-bar cut catches one-bar leaks of sizes and stops anywhere.

Guarantees: `lookahead_offence` recomputes the strategy's signals on the bars
truncated at (a) t + 1 for up to `per_field` firing bars t of each boolean
signal (entries, exits, short entries, short exits), drawn among its first
`pool` firing bars (all when None) with a generator seeded by `seed`, and (b)
the last bar; every value before a cut (booleans,
sizes, stops; NaN equals NaN) must equal the full run's. It returns None, or a
sentence naming the first offending field, bar and cut. The same inputs
always give the same cuts and verdict.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from trading.engine.market import Bars
from trading.engine.strategy import Signals, Strategy

BOOLEAN_FIELDS = ("entries", "exits", "short_entries", "short_exits")
FIELDS = (*BOOLEAN_FIELDS, "size", "sl_stop", "tp_stop", "tsl_stop")


def aimed_cuts(
    full: Signals, n: int, per_field: int, seed: int, pool: int | None = None
) -> list[int]:
    """t + 1 for up to `per_field` firing bars t of each boolean field (drawn among its
    first `pool` firing bars, or all of them), and n - 1."""
    rng = np.random.default_rng(seed)
    cuts = {n - 1} if n > 1 else set()
    for name in BOOLEAN_FIELDS:
        values = getattr(full, name)
        if values is None or per_field <= 0:
            continue
        firing = np.flatnonzero(np.asarray(values, dtype=bool)[: n - 1])[:pool]
        if len(firing):
            picks = rng.choice(firing, size=min(per_field, len(firing)), replace=False)
            cuts.update(int(t) + 1 for t in picks)
    return sorted(cuts)


def _first_difference(whole: object, piece: object, cut: int) -> int | None:
    """The first bar before `cut` where the two values differ (-1: the shapes differ)."""
    if whole is None or piece is None:
        return None if whole is None and piece is None else -1
    a, b = np.asarray(whole), np.asarray(piece)
    if a.ndim == 0 or b.ndim == 0:
        return None if np.array_equal(a, b, equal_nan=True) else -1
    a, b = a[:cut].astype(np.float64), b[:cut].astype(np.float64)
    changed = np.flatnonzero(~((a == b) | (np.isnan(a) & np.isnan(b))))
    return int(changed[0]) if len(changed) else None


def lookahead_offence(
    strategy: Strategy, bars: Bars, full: Signals, *, per_field: int, seed: int,
    pool: int | None = None, cuts: Iterable[int] | None = None,
) -> str | None:
    """None if no signal before a cut changes when the bars after it are removed."""
    points = aimed_cuts(full, len(bars), per_field, seed, pool) if cuts is None else sorted(cuts)
    for cut in points:
        part = strategy.signals(bars.slice(0, cut), {})
        for name in FIELDS:
            bar = _first_difference(getattr(full, name), getattr(part, name), cut)
            if bar is not None:
                where = "its shape" if bar < 0 else f"bar {bar}"
                return (f"lookahead: {name} at {where} changed when the bars from {cut} on "
                        f"were removed")
    return None
