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
`pool` firing bars (all when None) by a generator seeded with `seed` and those
candidate bars (signals that fire alike are cut alike), and (b) the last bar;
every value before a cut (booleans, sizes, stops; NaN equals NaN) must equal
the full run's. It returns None, or a
sentence naming the first offending field, bar and cut. The same inputs
always give the same cuts and verdict.

`genome_offence` gives a genome exactly the verdict `lookahead_offence` gives
its decoded strategy, for less work: a genome's value at bar t is a function of
its blocks' values at bar t (`genome.combine_blocks`), so at a cut where every
block's own values before the cut survive the truncation, the genome's do too.
Whether a block survives a cut is worked out once per (dataset, block, cut) and
remembered (`LookaheadMemory`, which can work out a whole batch's (block, cut)
pairs at once, a seed's blocks at one cut in one call): the last-bar cut is the
same for every genome of a dataset, and most blocks of a generation were checked
in an earlier one. Only
at a cut where some block changes is the genome itself recomputed and compared
(masking by a filter may still hide the change), as `lookahead_offence` does.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Sequence

import numba
import numpy as np

from evolution.engine.genome import Block, Genome, block_signals
from evolution.engine.signal_store import (
    DatasetSignals,
    block_key,
    computed_together,
    distinct_blocks,
)
from trading.engine.market import Bars
from trading.engine.strategy import Signals, Strategy

BOOLEAN_FIELDS = ("entries", "exits", "short_entries", "short_exits")
FIELDS = (*BOOLEAN_FIELDS, "size", "sl_stop", "tp_stop", "tsl_stop")
GUARDS = ("allow", "allow_short")  # the extras a genome reads (a filter block's)
MEMORY_LIMIT = 100_000


def aimed_cuts(
    full: Signals, n: int, per_field: int, seed: int, pool: int | None = None
) -> list[int]:
    """t + 1 for up to `per_field` firing bars t of each boolean field (drawn without
    replacement among its first `pool` firing bars, or all of them, by a splitmix64
    generator seeded with `seed` and those candidates: fields that fire alike are cut
    alike), and n - 1."""
    flags = tuple(_read_only(getattr(full, name)) for name in BOOLEAN_FIELDS)
    picks = _aimed(flags, max(n - 1, 0), per_field, np.uint64(seed % 2**64),
                   -1 if pool is None else pool)
    cuts = {n - 1} if n > 1 else set()
    cuts.update(picks.tolist())
    return sorted(cuts)


def _read_only(values: object) -> np.ndarray:
    """A read-only contiguous bool view of a field (empty for None): one array type for the
    compiled draw whatever the field's arrays are (some blocks share read-only ones)."""
    view = np.ascontiguousarray(np.zeros(0) if values is None else values, dtype=np.bool_)
    view = view.view()
    view.flags.writeable = False
    return view


@numba.njit(cache=True)
def _aimed(flags: tuple[np.ndarray, ...], n: int, per_field: int, seed: np.uint64,
           pool: int) -> np.ndarray:
    """t + 1 for the drawn firing bars t < n of each field (one compiled call per genome:
    a GA draws cuts for every genome it scores)."""
    out = np.empty(len(flags) * max(per_field, 0), np.int64)
    found = 0
    for values in flags:
        limit = min(values.shape[0], n)
        candidates = np.empty(limit if pool < 0 else min(pool, limit), np.int64)
        count = 0
        for t in range(limit):
            if count == candidates.shape[0]:
                break
            if values[t]:
                candidates[count] = t
                count += 1
        state = seed  # the field's draws depend on the seed and its candidates only
        for j in range(count):
            state, _ = _splitmix64(state ^ np.uint64(candidates[j]))
        for j in range(min(per_field, count)):  # a partial Fisher-Yates shuffle
            state, draw = _splitmix64(state)
            k = j + np.int64(draw % np.uint64(count - j))
            candidates[j], candidates[k] = candidates[k], candidates[j]
            out[found] = candidates[j] + 1
            found += 1
    return out[:found]


@numba.njit(cache=True)
def _splitmix64(state: np.uint64) -> tuple[np.uint64, np.uint64]:
    """(next state, a 64-bit draw): Steele, Lea and Flood's SplitMix64."""
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, z ^ (z >> np.uint64(31))


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
        offence = first_offence(full, strategy.signals(bars.slice(0, cut), {}), cut)
        if offence is not None:
            return offence
    return None


def first_offence(full: Signals, part: Signals, cut: int) -> str | None:
    """The sentence naming the first field of `part` (signals on the bars before `cut`)
    that differs from `full` before the cut, or None."""
    for name in FIELDS:
        bar = _first_difference(getattr(full, name), getattr(part, name), cut)
        if bar is not None:
            where = "its shape" if bar < 0 else f"bar {bar}"
            return (f"lookahead: {name} at {where} changed when the bars from {cut} on "
                    f"were removed")
    return None


def _same_before(whole: object, piece: object, cut: int) -> bool:
    """`_first_difference(whole, piece, cut) is None`; equal bytes (arrays of one dtype)
    settle it at once, anything else (even -0.0 against 0.0) goes the exact way."""
    if isinstance(whole, np.ndarray) and isinstance(piece, np.ndarray) and \
            whole.ndim == piece.ndim == 1 and whole.dtype == piece.dtype and \
            whole[:cut].tobytes() == piece[:cut].tobytes():
        return True
    return _first_difference(whole, piece, cut) is None


def _survives(full: Signals, part: Signals, cut: int) -> bool:
    """Whether every field and guard of `part` equals `full` before the cut (most fields
    of a block are None on both sides: settled without a comparison)."""
    for name in FIELDS:
        whole, piece = getattr(full, name), getattr(part, name)
        if (whole is not None or piece is not None) and not _same_before(whole, piece, cut):
            return False
    for name in GUARDS:
        whole, piece = full.extras.get(name), part.extras.get(name)
        if (whole is not None or piece is not None) and not _same_before(whole, piece, cut):
            return False
    return True


class LookaheadMemory:
    """Verdicts per (genes, dataset) and block survivals per (dataset, block, cut); a
    dataset is its `signal_store.dataset_identity` (key and bars)."""

    def __init__(self, limit: int = MEMORY_LIMIT):
        self.limit = limit
        self._verdicts: dict[Hashable, str | None] = {}
        self._survivals: dict[Hashable, bool] = {}
        self._cuts: dict[Hashable, list[int]] = {}  # drawn by `check_aimed`, until used
        self._lock = threading.Lock()

    def verdict(self, key: Hashable) -> tuple[bool, str | None]:
        """(known, verdict)."""
        with self._lock:
            return key in self._verdicts, self._verdicts.get(key)

    def remember_verdict(self, key: Hashable, verdict: str | None) -> None:
        self._remember(self._verdicts, key, verdict)

    def survives(self, signals: DatasetSignals, block: Block, cut: int) -> bool:
        """Whether the block's values on the first instrument before `cut` survive removing
        the bars from `cut` on."""
        key = (signals.identity, block_key(block), cut)
        with self._lock:
            known = self._survivals.get(key)
        if known is None:
            part = block_signals(block, signals.bars_until(0, cut))
            known = _survives(signals.block(0, block), part, cut)
            self._remember(self._survivals, key, known)
        return known

    def check_together(self, signals: DatasetSignals, genomes: Sequence[Genome],
                       cut: int) -> None:
        """Work out at once whether each block of `genomes` survives `cut` (each seed's
        blocks computed together), so that `survives` finds them known."""
        self.check_pairs(signals, [(b, cut) for b in distinct_blocks(genomes)])

    def check_aimed(self, signals: DatasetSignals, genomes: Sequence[tuple[Genome, Signals]],
                    *, per_field: int, seed: int, pool: int | None = None) -> None:
        """`check_pairs` of every block of each (genome, its signals on the first
        instrument) at the genome's aimed cuts: what `genome_offence` will ask for."""
        pairs = []
        for genome, full in genomes:
            cuts = self.cuts(signals, genome, full, per_field=per_field, seed=seed, pool=pool)
            self._remember(self._cuts, (signals.identity, genome.genes_hash, per_field, seed,
                                        pool), cuts)
            pairs += [(block, cut) for cut in cuts for block in genome.blocks()]
        self.check_pairs(signals, pairs)

    def cuts(self, signals: DatasetSignals, genome: Genome, full: Signals, *, per_field: int,
             seed: int, pool: int | None = None) -> list[int]:
        """`aimed_cuts` of the genome's signals on the first instrument (`full`): those
        `check_aimed` drew for it (once), or drawn now."""
        key = (signals.identity, genome.genes_hash, per_field, seed, pool)
        with self._lock:
            drawn = self._cuts.pop(key, None)
        if drawn is not None:
            return drawn
        return aimed_cuts(full, len(signals.bars[0]), per_field, seed, pool)

    def check_pairs(self, signals: DatasetSignals, pairs: Iterable[tuple[Block, int]]) -> None:
        """Work out whether each (block, cut) survives, the unknown ones grouped by cut and
        each seed's blocks at a cut computed together (one call instead of one per block).
        A seed that raises is left out: `survives` raises for it again."""
        by_cut: dict[int, dict[Hashable, Block]] = {}
        for block, cut in pairs:
            key = block_key(block)
            if (signals.identity, key, cut) not in self._survivals:
                by_cut.setdefault(cut, {})[key] = block
        for cut, blocks in by_cut.items():
            for group, parts in computed_together(list(blocks.values()),
                                                  signals.bars_until(0, cut),
                                                  signals.memo(0, cut)):
                for block, part in zip(group, parts, strict=True):
                    self._remember(self._survivals, (signals.identity, block_key(block), cut),
                                   _survives(signals.block(0, block), part, cut))

    def _remember(self, table: dict, key: Hashable, value: object) -> None:
        with self._lock:
            if len(table) >= self.limit:
                table.clear()
            table[key] = value

    def clear(self) -> None:
        with self._lock:
            self._verdicts.clear()
            self._survivals.clear()
            self._cuts.clear()


LOOKAHEAD_MEMORY = LookaheadMemory()  # the process's memory


def genome_offence(
    genome: Genome, signals: DatasetSignals, full: Signals, *, per_field: int, seed: int,
    pool: int | None = None, memory: LookaheadMemory = LOOKAHEAD_MEMORY,
) -> str | None:
    """`lookahead_offence(decode(genome), bars, full, ...)` on the dataset's first
    instrument, through its blocks (see the module docstring)."""
    for cut in memory.cuts(signals, genome, full, per_field=per_field, seed=seed, pool=pool):
        if all(memory.survives(signals, block, cut) for block in genome.blocks()):
            continue
        offence = first_offence(full, signals.genome(0, genome, cut), cut)
        if offence is not None:
            return offence
    return None
