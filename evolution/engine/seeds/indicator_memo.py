"""Indicator rows kept from one batch of blocks to the next, per series and period.

Blocks bred from their parents mostly keep the indicator period of a parent's
block while another parameter changes (a sizing block's target volatility, a
stop's multiple): the block is new, its indicator row is not. A seed's
`compute_many` given a `SeriesMemo` asks it for the rows of the periods it
needs and computes only the ones no earlier batch computed on the same series.

Guarantees:
- `SeriesMemo.rows(indicator, periods, compute)` gives `{n: row}` for every
  distinct period, each equal to what `compute` gives for it: rows already
  known for (series, indicator, n) are served, the missing periods computed in
  one `compute(missing)` call (which must give, for each period, what it gives
  for that period alone) and kept;
- a series is named by its caller (`signal_store`: the dataset's identity, the
  instrument and the number of bars), so a row is served only for the values it
  was computed on, a truncated series (a lookahead cut) being a series of its
  own;
- kept rows own their memory (not views of a larger computed array) and are
  never written to by anyone (callers must not write into them); at most
  `capacity_bytes` are kept, the least recently used dropped first;
  thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping

import numpy as np

from evolution.engine.byte_lru import ByteBoundedLru

MEMO_BYTES = 48 * 2**20  # about 200 periods of 3 instruments x 8,760 bars


class IndicatorMemo:
    """Rows by (series, indicator, period), least recently used dropped."""

    def __init__(self, capacity_bytes: int = MEMO_BYTES):
        self.capacity_bytes = capacity_bytes
        self._rows: ByteBoundedLru[np.ndarray] = ByteBoundedLru(capacity_bytes)
        self._count_lock = threading.Lock()
        self.computed = 0  # rows computed (not served)

    def series(self, key: Hashable) -> SeriesMemo:
        """The memo's rows of the series `key` names."""
        return SeriesMemo(self, key)

    def _known(self, keys: Mapping[int, Hashable]) -> dict[int, np.ndarray]:
        found = {}
        for n, key in keys.items():
            row = self._rows.get(key)
            if row is not None:
                found[n] = row
        return found

    def _keep(self, rows: Mapping[Hashable, np.ndarray]) -> None:
        with self._count_lock:
            self.computed += len(rows)
        for key, row in rows.items():
            self._rows.put(key, row, row.nbytes)

    def clear(self) -> None:
        self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)


class SeriesMemo:
    """One series' rows in an `IndicatorMemo`."""

    def __init__(self, memo: IndicatorMemo, key: Hashable):
        self.memo = memo
        self.key = key

    def rows(
        self, indicator: Hashable, periods: Iterable[int],
        compute: Callable[[list[int]], Mapping[int, np.ndarray]],
    ) -> dict[int, np.ndarray]:
        """`{n: row}` of the indicator for each distinct period (see the module docstring)."""
        keys = {n: (self.key, indicator, n) for n in sorted(set(periods))}
        found = self.memo._known(keys)
        missing = [n for n in keys if n not in found]
        if missing:
            computed = compute(missing)
            fresh = {n: np.array(computed[n]) for n in missing}  # own memory, not a view
            self.memo._keep({keys[n]: row for n, row in fresh.items()})
            found.update(fresh)
        return found


INDICATOR_MEMO = IndicatorMemo()  # the process's memo
