"""The trial ledger: every genome evaluation of a run, for deflated Sharpe and PBO.

Guarantees:
- a `TrialRecord` keeps what the overfitting statistics need and nothing that
  depends on how the run was executed: the generation, the genome identity
  and genes hash, the objectives, the failure reason, and the equal-weight
  returns per ledger period (daily by default) of a valid evaluation;
- records round-trip through JSON (`to_dict` / `from_dict`);
- `returns_matrix()` is the T x N matrix of the valid trials' period returns
  on one period grid (a period a trial has no data for counts 0), each genome
  once (its first evaluation), in the order the trials were appended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evolution.engine.evaluation import Evaluation


@dataclass(frozen=True)
class TrialRecord:
    """One evaluated genome, as the ledger stores it."""

    generation: int
    identity: str
    genes_hash: str
    objectives: Mapping[str, float]
    reason: str | None = None
    period_origin_ms: int = 0
    period_ms: int = 0
    period_returns: tuple[float, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reason is None

    @classmethod
    def of(cls, generation: int, evaluation: Evaluation) -> TrialRecord:
        return cls(
            generation=generation,
            identity=evaluation.genome.identity,
            genes_hash=evaluation.genome.genes_hash,
            objectives=evaluation.objectives.as_dict(),
            reason=evaluation.reason,
            period_origin_ms=evaluation.period_origin_ms,
            period_ms=evaluation.period_ms,
            period_returns=evaluation.period_returns,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "identity": self.identity,
            "genes_hash": self.genes_hash,
            "objectives": dict(self.objectives),
            "reason": self.reason,
            "period_origin_ms": self.period_origin_ms,
            "period_ms": self.period_ms,
            "period_returns": list(self.period_returns),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRecord:
        values = dict(data)
        values["period_returns"] = tuple(float(r) for r in values.get("period_returns", ()))
        return cls(**values)


@dataclass
class TrialLedger:
    """An append-only list of trial records."""

    records: list[TrialRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def append(self, generation: int, evaluations: Iterable[Evaluation]) -> None:
        self.records.extend(TrialRecord.of(generation, e) for e in evaluations)

    def extend(self, records: Iterable[TrialRecord]) -> None:
        self.records.extend(records)

    def valid(self) -> list[TrialRecord]:
        """Valid trials, each genome once (its first evaluation)."""
        seen: set[str] = set()
        out = []
        for record in self.records:
            if record.ok and record.period_returns and record.genes_hash not in seen:
                seen.add(record.genes_hash)
                out.append(record)
        return out

    def returns_matrix(self) -> tuple[np.ndarray, np.ndarray, list[TrialRecord]]:
        """(period start times (T,), returns (T, N), the N trials) of the valid trials."""
        return returns_matrix(self.valid())

    def to_dicts(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.records]

    @classmethod
    def from_dicts(cls, rows: Iterable[Mapping[str, Any]]) -> TrialLedger:
        return cls([TrialRecord.from_dict(r) for r in rows])


def returns_matrix(
    trials: Sequence[TrialRecord],
) -> tuple[np.ndarray, np.ndarray, list[TrialRecord]]:
    """The trials' period returns on their common period grid (0 where a trial has none)."""
    if not trials:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0)), []
    period = trials[0].period_ms
    if any(t.period_ms != period for t in trials):
        raise ValueError("trials with different ledger periods cannot share a matrix")
    origin = min(t.period_origin_ms for t in trials)
    rows = max((t.period_origin_ms - origin) // period + len(t.period_returns) for t in trials)
    matrix = np.zeros((rows, len(trials)))
    for column, trial in enumerate(trials):
        first = (trial.period_origin_ms - origin) // period
        matrix[first : first + len(trial.period_returns), column] = trial.period_returns
    times = origin + np.arange(rows, dtype=np.int64) * period
    return times, matrix, list(trials)
