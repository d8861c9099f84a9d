"""Block signals computed once per process and shared by every genome that holds the block.

A genome's signals are its blocks' signals combined bar by bar
(`genome.combine_blocks`), and a block's signals depend only on its seed, its
parameters and the bars. Genomes of one generation share blocks, and
crossover passes whole blocks on (about a third of a bred generation's blocks
were computed for the generation before): the store keeps them, and a seed's
blocks missing from it are computed together (`Seed.compute_many`: an
indicator period several blocks use is computed once, and one an earlier batch
computed on the same bars is taken from the process's `IndicatorMemo`, under
the same dataset, instrument and length as the blocks).

Guarantees:
- `DatasetSignals.genome(asset, genome)` equals
  `decode(genome).signals(bars, {})` on the instrument's bars up to the end of
  its scored window, bit for bit (the same seeds, parameters and combination);
- entries are keyed by the dataset (its key and a digest of its bars, so a
  dataset reloaded with other bars under the same key is another dataset), the
  instrument, the number of bars, the seed (its name and class) and the
  block's parameters, so a block computed for one dataset or length is never
  served for another;
- a block whose seed raises is not stored: the exception reaches the caller
  every time;
- the store holds at most `capacity_bytes` of arrays (least recently used
  blocks are dropped first); it is thread-safe. The arrays it hands out are
  shared: callers never write to them. A `DatasetSignals` (one batch) keeps
  the blocks it handed out until it is dropped.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Hashable, Sequence

import numpy as np

from evolution.engine.byte_lru import ByteBoundedLru
from evolution.engine.datasets import Dataset
from evolution.engine.genome import Block, Genome, block_signals, combine_blocks
from evolution.engine.seeds.indicator_memo import INDICATOR_MEMO, IndicatorMemo, SeriesMemo
from trading.engine.market import Bars
from trading.engine.strategy import Signals

STORE_BYTES = 96 * 2**20  # about one generation of 100 genomes on 3 x 8,760 bars


def signals_bytes(signals: Signals) -> int:
    """The size of the arrays a `Signals` holds."""
    arrays = [getattr(signals, f) for f in ("entries", "exits", "short_entries", "short_exits",
                                            "size", "sl_stop", "tp_stop", "tsl_stop")]
    arrays += list(signals.extras.values())
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def block_key(block: Block) -> Hashable:
    """What a block's signals depend on besides the bars (`Block.signals_key`)."""
    return block.signals_key


_DIGESTS: weakref.WeakKeyDictionary[Dataset, str] = weakref.WeakKeyDictionary()
_DIGESTS_LOCK = threading.Lock()


def dataset_identity(dataset: Dataset) -> tuple[str, str]:
    """(key, digest of every instrument's bars and window): what cached results of a
    dataset are filed under (the digest is computed once per `Dataset` object)."""
    with _DIGESTS_LOCK:
        digest = _DIGESTS.get(dataset)
    if digest is None:
        hasher = hashlib.blake2b(digest_size=16)
        for bars, window in zip(dataset.bars, dataset.windows, strict=True):
            hasher.update(repr((bars.symbol, bars.timeframe, window)).encode())
            for values in (bars.timestamps, bars.open, bars.high, bars.low, bars.close,
                           bars.volume, bars.funding_rate):
                hasher.update(b"-" if values is None else np.ascontiguousarray(values).tobytes())
        digest = hasher.hexdigest()
        with _DIGESTS_LOCK:
            _DIGESTS[dataset] = digest
    return dataset.key, digest


class BlockSignalStore:
    """Block signals by (dataset, instrument, bars, block), least recently used dropped."""

    def __init__(self, capacity_bytes: int = STORE_BYTES):
        self.capacity_bytes = capacity_bytes
        self._entries: ByteBoundedLru[Signals] = ByteBoundedLru(capacity_bytes)
        self._count_lock = threading.Lock()
        self.computed = 0  # how many block signals were computed (not served from the store)

    def get(self, key: Hashable, block: Block, bars: Bars) -> Signals:
        signals = self._entries.get(key)
        if signals is None:
            signals = block_signals(block, bars)
            self.put(key, signals)
        return signals

    def put(self, key: Hashable, signals: Signals) -> None:
        with self._count_lock:
            self.computed += 1
        self._entries.put(key, signals, signals_bytes(signals))

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


BLOCK_SIGNALS = BlockSignalStore()  # the process's store


class DatasetSignals:
    """Block and genome signals on one dataset's instruments, through a store."""

    def __init__(self, dataset: Dataset, store: BlockSignalStore = BLOCK_SIGNALS,
                 indicators: IndicatorMemo = INDICATOR_MEMO):
        self.dataset = dataset
        self.indicators = indicators
        self.identity = dataset_identity(dataset)
        self.store = store
        self.bars = tuple(b.slice(0, stop) for b, (_, stop) in
                          zip(dataset.bars, dataset.windows, strict=True))
        self._cut: dict[tuple[int, int], Bars] = {}
        # the blocks this object has handed out or prefetched (the store's entries may be
        # dropped meanwhile; this object lives for one batch)
        self._held: dict[Hashable, Signals] = {}

    def memo(self, asset: int, length: int) -> SeriesMemo:
        """The indicator memo of the instrument's first `length` bars."""
        return self.indicators.series((self.identity, asset, length))

    def bars_until(self, asset: int, length: int) -> Bars:
        """The instrument's first `length` bars (the scored window's end by default)."""
        if length == len(self.bars[asset]):
            return self.bars[asset]
        if (asset, length) not in self._cut:
            self._cut[(asset, length)] = self.bars[asset].slice(0, length)
        return self._cut[(asset, length)]

    def key(self, asset: int, block: Block, length: int | None = None) -> Hashable:
        length = len(self.bars[asset]) if length is None else length
        return (self.identity, asset, length, block_key(block))

    def block(self, asset: int, block: Block, length: int | None = None) -> Signals:
        """The block's signals on the instrument's first `length` bars (default: all)."""
        bars = self.bars[asset] if length is None else self.bars_until(asset, length)
        key = (self.identity, asset, len(bars), block.signals_key)
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = self.store.get(key, block, bars)
        return held

    def prefetch(self, genomes: Sequence[Genome]) -> None:
        """Store every block of `genomes` on every instrument, each seed's blocks computed
        together (`Seed.compute_many`). A seed that raises is left for `block` to raise for
        each genome that holds it."""
        blocks = distinct_blocks(genomes)
        for asset, bars in enumerate(self.bars):
            missing = [b for b in blocks if self.key(asset, b) not in self.store]
            for group, signals in computed_together(missing, bars, self.memo(asset, len(bars))):
                for block, result in zip(group, signals, strict=True):
                    key = self.key(asset, block)
                    self.store.put(key, result)
                    self._held[key] = result

    def genome(self, asset: int, genome: Genome, length: int | None = None) -> Signals:
        """The genome's signals on the instrument's first `length` bars (default: all)."""
        blocks = {b.role: self.block(asset, b, length) for b in genome.blocks()}
        return combine_blocks(blocks["entry"], blocks.get("filter"), blocks.get("exit"),
                              blocks.get("sizing"))


def distinct_blocks(genomes: Sequence[Genome]) -> list[Block]:
    """The blocks of `genomes`, each (seed, parameters) once, in order of appearance."""
    seen: dict[Hashable, Block] = {}
    for genome in genomes:
        for block in genome.blocks():
            seen.setdefault(block_key(block), block)
    return list(seen.values())


def computed_together(
    blocks: Sequence[Block], bars: Bars, memo: SeriesMemo | None = None
) -> list[tuple[list[Block], list[Signals]]]:
    """The blocks' signals on `bars`, grouped by seed and computed with `compute_many`
    (with `memo`, the indicator memo of these bars); a seed that raises is left out (its
    blocks are computed one by one when needed)."""
    by_seed: dict[Hashable, list[Block]] = {}
    for block in blocks:
        by_seed.setdefault((block.seed, type(block.strategy)), []).append(block)
    out = []
    for group in by_seed.values():
        try:
            signals = group[0].strategy.compute_many(bars, [dict(b.params) for b in group],
                                                      memo)
        except Exception:  # noqa: BLE001 - the error is raised again for the genome itself
            continue
        out.append((group, signals))
    return out
