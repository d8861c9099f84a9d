"""Score genomes on a dataset: the fitness the GA selects on and the trial ledger's entries.

Guarantees:
- evaluation is a pure function of (genome genes, dataset, config): the same
  inputs give the same `Evaluation` whatever the batch they came in, the
  order, or the process that ran them (serial and Celery runs agree);
- fees and slippage are always charged (`EvaluationConfig` refuses zero costs);
- every instrument of the dataset is scored with the same genome (universal
  strategies) and the objectives aggregate across them (see `objectives.py`);
- a genome that crashes, fails the lookahead check, gives a non-finite result
  or trades fewer than `min_trades` times gets `WORST` objectives and a
  recorded `reason`; nothing a genome does stops the batch;
- the lookahead check (`lookahead_gate`) recomputes the genome's signals on
  the first instrument's bars cut right after `lookahead_per_signal` of the
  first few firing bars of each signal and at the last bar (cuts seeded by the genes hash, so
  deterministic); no value before a cut may change. Its verdict is cached per
  process by genes hash and dataset key;
- every `Evaluation` carries the per-period (default daily) equal-weight
  returns the trial ledger needs for the deflated Sharpe ratio and PBO.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from backtests.engine.config import BacktestConfig
from evolution.engine.datasets import DATASETS, Dataset
from evolution.engine.genome import Genome, GenomeStrategy, decode
from evolution.engine.lookahead_gate import lookahead_offence
from evolution.engine.objectives import WORST, AssetOutcome, Objectives, score, sharpe_ratio
from evolution.engine.simulation import ColumnOutcome, simulate_columns
from trading.engine.market import periods_per_year, timeframe_ms
from trading.engine.strategy import Signals

LOOKAHEAD_CACHE_LIMIT = 100_000
LOOKAHEAD_POOL = 8  # aimed cuts are drawn among each signal's first 8 firing bars (cheap)


@dataclass(frozen=True)
class EvaluationConfig:
    """How genomes are scored. The default backtest lets genomes with short signals short."""

    backtest: BacktestConfig = field(default_factory=lambda: BacktestConfig(allow_short=True))
    sub_periods: int = 6
    min_trades: int = 1
    lookahead_per_signal: int = 1
    ledger_period: str = "1d"

    def __post_init__(self) -> None:
        costs = self.backtest.costs
        if not (costs.market_fee > 0 and costs.slippage > 0):
            raise ValueError("genomes are always scored with fees and slippage (both > 0)")
        if self.sub_periods < 1 or self.min_trades < 1 or self.lookahead_per_signal < 0:
            raise ValueError("sub_periods, min_trades must be >= 1; lookahead_per_signal >= 0")
        timeframe_ms(self.ledger_period)

    def as_dict(self) -> dict[str, Any]:
        return {
            "backtest": self.backtest.as_dict(),
            "sub_periods": self.sub_periods,
            "min_trades": self.min_trades,
            "lookahead_per_signal": self.lookahead_per_signal,
            "ledger_period": self.ledger_period,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationConfig:
        values = dict(data)
        if "backtest" in values:
            values["backtest"] = BacktestConfig.from_dict(values["backtest"])
        return cls(**values)


@dataclass(frozen=True)
class AssetFigures:
    """One instrument's share of a genome's evaluation."""

    symbol: str
    sharpe: float
    total_return: float
    trades: int
    turnover: float


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A genome's fitness on a dataset, with what the trial ledger records."""

    genome: Genome
    objectives: Objectives
    reason: str | None = None  # why the genome got the worst fitness (None = valid)
    assets: tuple[AssetFigures, ...] = ()
    period_origin_ms: int = 0
    period_ms: int = 0
    period_returns: tuple[float, ...] = ()  # equal-weight returns per ledger period

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def trades(self) -> int:
        return sum(a.trades for a in self.assets)

    def without_returns(self) -> Evaluation:
        """The same evaluation without the ledger's period returns (lighter to keep)."""
        return replace(self, period_returns=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "genome": self.genome.to_dict(),
            "identity": self.genome.identity,
            "genes_hash": self.genome.genes_hash,
            "objectives": self.objectives.as_dict(),
            "reason": self.reason,
            "assets": [vars(a).copy() for a in self.assets],
            "period_origin_ms": self.period_origin_ms,
            "period_ms": self.period_ms,
            "period_returns": list(self.period_returns),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        return cls(
            genome=Genome.from_dict(data["genome"]),
            objectives=Objectives.from_dict(data["objectives"]),
            reason=data.get("reason"),
            assets=tuple(AssetFigures(**a) for a in data.get("assets", ())),
            period_origin_ms=int(data.get("period_origin_ms", 0)),
            period_ms=int(data.get("period_ms", 0)),
            period_returns=tuple(float(r) for r in data.get("period_returns", ())),
        )


def failed(genome: Genome, reason: str) -> Evaluation:
    return Evaluation(genome=genome, objectives=WORST, reason=reason)


# ----------------------------------------------------------------------------- lookahead


_LOOKAHEAD_VERDICTS: dict[tuple[str, str], str | None] = {}
_LOOKAHEAD_LOCK = threading.Lock()


def clear_lookahead_cache() -> None:
    """Forget every cached lookahead verdict of this process."""
    with _LOOKAHEAD_LOCK:
        _LOOKAHEAD_VERDICTS.clear()


def lookahead_verdict(
    genome: Genome, strategy: GenomeStrategy, dataset: Dataset, full: Signals, per_signal: int
) -> str | None:
    """None if the genome passes the aimed truncation check on the first instrument
    (see `lookahead_gate`; cuts seeded by the genes hash), else the reason. Cached."""
    cache_key = (genome.genes_hash, dataset.key)
    with _LOOKAHEAD_LOCK:
        if cache_key in _LOOKAHEAD_VERDICTS:
            return _LOOKAHEAD_VERDICTS[cache_key]
    bars = dataset.bars[0].slice(0, dataset.windows[0][1])
    verdict = lookahead_offence(
        strategy, bars, full, per_field=per_signal, seed=int(genome.genes_hash[:16], 16),
        pool=LOOKAHEAD_POOL,
    )
    with _LOOKAHEAD_LOCK:
        if len(_LOOKAHEAD_VERDICTS) >= LOOKAHEAD_CACHE_LIMIT:
            _LOOKAHEAD_VERDICTS.clear()
        _LOOKAHEAD_VERDICTS[cache_key] = verdict
    return verdict


# ----------------------------------------------------------------------------- evaluation


def _signals_or_reason(
    genome: Genome, dataset: Dataset, config: EvaluationConfig
) -> list[Signals] | str:
    """The genome's signals on every instrument, or why it cannot be scored."""
    try:
        strategy = decode(genome)
        per_asset = [
            strategy.signals(bars.slice(0, stop), {})
            for bars, (_, stop) in zip(dataset.bars, dataset.windows, strict=True)
        ]
        verdict = lookahead_verdict(genome, strategy, dataset, per_asset[0],
                                    config.lookahead_per_signal)
    except Exception as exc:  # noqa: BLE001 - a failing genome never stops the run
        return f"crashed: {type(exc).__name__}: {exc}"
    return verdict if verdict is not None else per_asset


def period_returns(
    outcomes: Sequence[AssetOutcome], period_ms: int
) -> tuple[int, tuple[float, ...]]:
    """(origin, equal-weight compounded return per period) over the instruments present."""
    first = min(int(o.timestamps[0]) for o in outcomes)
    last = max(int(o.timestamps[-1]) for o in outcomes)
    origin = first - first % period_ms
    count = (last - origin) // period_ms + 1
    total = np.zeros(count)
    present = np.zeros(count)
    for o in outcomes:
        index = (o.timestamps - origin) // period_ms
        growth = np.log1p(np.maximum(o.returns, -1.0 + 1e-12))
        total += np.expm1(np.bincount(index, weights=growth, minlength=count))
        present += np.bincount(index, minlength=count) > 0
    mean = np.where(present > 0, total / np.maximum(present, 1), 0.0)
    return origin, tuple(mean.tolist())


def _finish(
    genome: Genome,
    dataset: Dataset,
    columns: Sequence[ColumnOutcome | Exception],
    config: EvaluationConfig,
) -> Evaluation:
    errors = [c for c in columns if isinstance(c, Exception)]
    if errors:
        return failed(genome, f"crashed: {type(errors[0]).__name__}: {errors[0]}")
    outcomes = []
    for bars, (start, stop), column in zip(dataset.bars, dataset.windows, columns, strict=True):
        assert isinstance(column, ColumnOutcome)
        outcomes.append(AssetOutcome(bars.symbol, bars.timestamps[start:stop], column.returns,
                                     column.trades, column.turnover))
    trades = sum(o.trades for o in outcomes)
    if trades < config.min_trades:
        reason = "never traded" if trades == 0 else f"traded {trades} times (< {config.min_trades})"
        return failed(genome, reason)
    periods = periods_per_year(config.backtest.timeframe_for(dataset.timeframe))
    ledger_ms = timeframe_ms(config.ledger_period)
    origin, returns = period_returns(outcomes, ledger_ms)
    figures = tuple(
        AssetFigures(o.symbol, _finite(sharpe_ratio(o.returns, periods)),
                     float(np.prod(1.0 + o.returns) - 1.0), o.trades, o.turnover)
        for o in outcomes
    )
    return Evaluation(
        genome=genome,
        objectives=score(outcomes, periods, config.sub_periods),
        assets=figures,
        period_origin_ms=origin,
        period_ms=ledger_ms,
        period_returns=returns,
    )


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def evaluate_genomes(
    genomes: Sequence[Genome], dataset: Dataset, config: EvaluationConfig
) -> list[Evaluation]:
    """The evaluation of each genome, in order (see the module docstring)."""
    prepared = [_signals_or_reason(g, dataset, config) for g in genomes]
    runnable = {i: p for i, p in enumerate(prepared) if not isinstance(p, str)}
    per_asset: list[list[ColumnOutcome | Exception]] = []
    for asset, (bars, window) in enumerate(zip(dataset.bars, dataset.windows, strict=True)):
        signals = [per_instrument[asset] for per_instrument in runnable.values()]
        per_asset.append(simulate_columns(bars, window, signals, config.backtest))
    position = {index: k for k, index in enumerate(runnable)}
    results: list[Evaluation] = []
    for index, (genome, item) in enumerate(zip(genomes, prepared, strict=True)):
        if isinstance(item, str):
            results.append(failed(genome, item))
            continue
        outcomes = [column[position[index]] for column in per_asset]
        results.append(_finish(genome, dataset, outcomes, config))
    return results


def evaluate_batch(
    genome_dicts: Sequence[Mapping[str, Any]], dataset_key: str, config_dict: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """JSON in, JSON out, for a Celery task: the process's cached dataset is reused.

    A genome dict that cannot even be decoded gets the worst fitness too, with
    its genome echoed back under `genome` (as given) and the error as `reason`.
    """
    dataset = DATASETS.get(dataset_key)
    config = EvaluationConfig.from_dict(config_dict)
    genomes: list[Genome] = []
    broken: dict[int, dict[str, Any]] = {}
    for i, data in enumerate(genome_dicts):
        try:
            genomes.append(Genome.from_dict(data))
        except (ValueError, KeyError, TypeError) as exc:
            broken[i] = {"genome": dict(data), "objectives": WORST.as_dict(),
                         "reason": f"invalid genome: {exc}"}
    evaluated = iter(e.to_dict() for e in evaluate_genomes(genomes, dataset, config))
    return [broken[i] if i in broken else next(evaluated) for i in range(len(genome_dicts))]
