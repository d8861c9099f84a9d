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
  first few firing bars of each signal and at the last bar (cuts drawn from
  the signals themselves, so deterministic, and alike for genomes whose signals
  fire alike: the block checks made for one serve the others); no value before
  a cut may change. Its verdict is cached per process by genes hash and dataset
  (key and bars);
- every `Evaluation` carries the per-period (default daily) equal-weight
  returns the trial ledger needs for the deflated Sharpe ratio and PBO.

How a batch is evaluated (each step gives what the plain one-genome path
gives, bit for bit, and is tested against it): each distinct block is computed
once per instrument, a seed's blocks together (`signal_store`; blocks are kept
for the next generations of the process, and so are the indicator rows of the
periods they used, `seeds.indicator_memo`); the block checks the lookahead
verdicts need are made together, every block once at the last-bar cut all
genomes share, then every (block, aimed cut) the genomes need, a seed's blocks
at one cut in one call (`LookaheadMemory.check_aimed`), before each genome's
verdict is read through its blocks (`lookahead_gate.genome_offence`); every
genome's account is simulated in one compiled pass per instrument, reading its
signals where they lie (`simulation.simulate_batch`); the figures of all genomes come from their
returns matrix at once (`column_scores`).
`clear_lookahead_cache` forgets every cached check, block and indicator row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from backtests.engine.config import BacktestConfig
from evolution.engine.column_scores import AssetScores, asset_scores, compound_by_bin
from evolution.engine.datasets import DATASETS, Dataset
from evolution.engine.genome import Genome
from evolution.engine.lookahead_gate import LOOKAHEAD_MEMORY, genome_offence
from evolution.engine.objectives import (
    WORST,
    AssetOutcome,
    Objectives,
    combine,
    span_edges_of,
    span_index,
)
from evolution.engine.seeds.indicator_memo import INDICATOR_MEMO
from evolution.engine.signal_store import BLOCK_SIGNALS, DatasetSignals
from evolution.engine.simulation import BatchOutcome, simulate_batch
from trading.engine.market import periods_per_year, timeframe_ms
from trading.engine.strategy import Signals

LOOKAHEAD_POOL = 8  # aimed cuts are drawn among each signal's first 8 firing bars (cheap)
CUT_SEED = 0  # the draws depend on the signals alone: genomes sharing blocks share cuts


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


def clear_lookahead_cache() -> None:
    """Forget every cached lookahead verdict, block check, block signals and indicator row of
    this process (the next evaluation starts cold)."""
    LOOKAHEAD_MEMORY.clear()
    BLOCK_SIGNALS.clear()
    INDICATOR_MEMO.clear()


def lookahead_verdict(
    genome: Genome, signals: DatasetSignals, full: Signals, per_signal: int
) -> str | None:
    """None if the genome passes the aimed truncation check on the first instrument
    (see `lookahead_gate`; cuts drawn from the signals), else the reason. Cached."""
    key = (genome.genes_hash, signals.identity)
    known, verdict = LOOKAHEAD_MEMORY.verdict(key)
    if not known:
        verdict = genome_offence(genome, signals, full, per_field=per_signal,
                                 seed=CUT_SEED, pool=LOOKAHEAD_POOL)
        LOOKAHEAD_MEMORY.remember_verdict(key, verdict)
    return verdict


# ----------------------------------------------------------------------------- evaluation


def _genome_signals(genome: Genome, signals: DatasetSignals) -> list[Signals] | str:
    """The genome's signals on every instrument, or why it crashed."""
    try:
        return [signals.genome(asset, genome) for asset in range(len(signals.bars))]
    except Exception as exc:  # noqa: BLE001 - a failing genome never stops the run
        return f"crashed: {type(exc).__name__}: {exc}"


def _checked(
    genome: Genome, signals: DatasetSignals, per_asset: list[Signals], config: EvaluationConfig
) -> list[Signals] | str:
    """The signals if the genome passes the lookahead check, else why not."""
    try:
        verdict = lookahead_verdict(genome, signals, per_asset[0], config.lookahead_per_signal)
    except Exception as exc:  # noqa: BLE001 - a failing genome never stops the run
        return f"crashed: {type(exc).__name__}: {exc}"
    return verdict if verdict is not None else per_asset


def check_lookahead_together(
    genomes: Sequence[Genome], signals: DatasetSignals, per_asset: Sequence[list[Signals] | str],
    config: EvaluationConfig,
) -> None:
    """Work out, for the genomes without a verdict yet, every block check their verdicts
    need, grouped (the last-bar cut they share, then their aimed cuts): the verdicts are
    those `lookahead_verdict` gives alone, for fewer seed calls."""
    unchecked = [(g, s[0]) for g, s in zip(genomes, per_asset, strict=True)
                 if not isinstance(s, str)
                 and not LOOKAHEAD_MEMORY.verdict((g.genes_hash, signals.identity))[0]]
    if not unchecked or len(signals.bars[0]) < 2:
        return
    try:
        LOOKAHEAD_MEMORY.check_together(signals, [g for g, _ in unchecked],
                                        len(signals.bars[0]) - 1)
        LOOKAHEAD_MEMORY.check_aimed(signals, unchecked, per_field=config.lookahead_per_signal,
                                     seed=CUT_SEED, pool=LOOKAHEAD_POOL)
    except Exception:  # noqa: BLE001, S110 - then each genome's checks run (and fail) alone
        pass


def period_grid(timestamps: Sequence[np.ndarray], period_ms: int) -> tuple[int, int]:
    """(origin, count): the ledger periods covering every asset's bars."""
    first = min(int(t[0]) for t in timestamps)
    last = max(int(t[-1]) for t in timestamps)
    origin = first - first % period_ms
    return origin, (last - origin) // period_ms + 1


def period_returns(
    outcomes: Sequence[AssetOutcome], period_ms: int
) -> tuple[int, tuple[float, ...]]:
    """(origin, equal-weight compounded return per period) over the instruments present."""
    origin, count = period_grid([o.timestamps for o in outcomes], period_ms)
    total = np.zeros(count)
    present = np.zeros(count)
    for o in outcomes:
        index = (o.timestamps - origin) // period_ms
        compounded = np.empty(count)
        compound_by_bin(np.ascontiguousarray(o.returns, dtype=np.float64), index, compounded)
        total += compounded
        present += np.bincount(index, minlength=count) > 0
    mean = np.where(present > 0, total / np.maximum(present, 1), 0.0)
    return origin, tuple(mean.tolist())


@dataclass(frozen=True, eq=False)
class _Calendar:
    """Where each instrument's scored bars fall: sub-period (consistency) and ledger period."""

    span_index: tuple[np.ndarray, ...]
    span_present: tuple[np.ndarray, ...]  # per instrument: which sub-periods hold bars
    spans: int
    origin: int
    period_ms: int
    period_index: tuple[np.ndarray, ...]
    periods: int
    period_present: np.ndarray  # per period: how many instruments have bars in it

    @classmethod
    def of(cls, dataset: Dataset, config: EvaluationConfig) -> _Calendar:
        stamps = [b.timestamps[start:stop] for b, (start, stop) in
                  zip(dataset.bars, dataset.windows, strict=True)]
        edges = span_edges_of(stamps, config.sub_periods)
        spans = [span_index(t, edges) for t in stamps]
        period_ms = timeframe_ms(config.ledger_period)
        origin, count = period_grid(stamps, period_ms)
        periods = [(t - origin) // period_ms for t in stamps]
        present = np.zeros(count)
        for index in periods:
            present += np.bincount(index, minlength=count) > 0
        return cls(
            span_index=tuple(spans),
            span_present=tuple(np.bincount(i, minlength=config.sub_periods) > 0 for i in spans),
            spans=config.sub_periods, origin=origin, period_ms=period_ms,
            period_index=tuple(periods), periods=count, period_present=present,
        )


def _scores(
    batches: Sequence[BatchOutcome], rows: list[int], calendar: _Calendar, periods_per_year: float
) -> list[AssetScores]:
    """Each instrument's figures of the listed rows (the batches' returns are used up)."""
    return [
        asset_scores(batch.returns, np.asarray(rows), periods_per_year, calendar.span_index[a],
                     calendar.spans, calendar.period_index[a], calendar.periods)
        for a, batch in enumerate(batches)
    ]


def _evaluations(
    genomes: Sequence[Genome], dataset: Dataset, batches: Sequence[BatchOutcome],
    config: EvaluationConfig,
) -> list[Evaluation]:
    """Each simulated genome's evaluation (row j of every batch is genomes[j])."""
    results: dict[int, Evaluation] = {}
    scored: list[int] = []
    for j, genome in enumerate(genomes):
        error = next((b.errors[j] for b in batches if j in b.errors), None)
        trades = sum(int(b.trades[j]) for b in batches)
        if error is not None:
            results[j] = failed(genome, f"crashed: {type(error).__name__}: {error}")
        elif trades < config.min_trades:
            reason = "never traded" if trades == 0 else \
                f"traded {trades} times (< {config.min_trades})"
            results[j] = failed(genome, reason)
        else:
            scored.append(j)
    if scored:
        calendar = _Calendar.of(dataset, config)
        periods = periods_per_year(config.backtest.timeframe_for(dataset.timeframe))
        scores = _scores(batches, scored, calendar, periods)
        total = np.zeros((len(scored), calendar.periods))
        for score_of_asset in scores:
            total += score_of_asset.period_totals
        present = calendar.period_present
        ledger = np.where(present > 0, total / np.maximum(present, 1), 0.0)
        figures = _Figures.of(dataset, batches, scores, calendar)
        for row, j in enumerate(scored):
            results[j] = figures.evaluation(genomes[j], row, j, tuple(ledger[row].tolist()))
    return [results[j] for j in range(len(genomes))]


@dataclass(frozen=True, eq=False)
class _Figures:
    """The scored genomes' per-asset figures as plain Python numbers (one conversion per
    array instead of one per genome and asset): row `row` of the scores, index `j` of the
    batches."""

    symbols: tuple[str, ...]
    sharpe: list[list[float]]
    total_return: list[list[float]]
    max_drawdown: list[list[float]]
    trades: list[list[int]]
    turnover: list[list[float]]
    positive_cells: list[int]  # per row: (asset, sub-period) cells with a positive return
    cells: int
    origin: int
    period_ms: int

    @classmethod
    def of(cls, dataset: Dataset, batches: Sequence[BatchOutcome],
           scores: Sequence[AssetScores], calendar: _Calendar) -> _Figures:
        positive = sum(np.count_nonzero((s.span_totals > 0) & present, axis=1)
                       for s, present in zip(scores, calendar.span_present, strict=True))
        return cls(
            symbols=tuple(dataset.symbols),
            sharpe=[s.sharpe.tolist() for s in scores],
            total_return=[s.total_return.tolist() for s in scores],
            max_drawdown=[s.max_drawdown.tolist() for s in scores],
            trades=[b.trades.tolist() for b in batches],
            turnover=[b.turnover.tolist() for b in batches],
            positive_cells=np.asarray(positive).tolist(),
            cells=sum(int(np.count_nonzero(present)) for present in calendar.span_present),
            origin=calendar.origin, period_ms=calendar.period_ms,
        )

    def evaluation(self, genome: Genome, row: int, j: int,
                   ledger: tuple[float, ...]) -> Evaluation:
        figures = tuple(
            AssetFigures(symbol, self.sharpe[a][row], self.total_return[a][row],
                         self.trades[a][j], self.turnover[a][j])
            for a, symbol in enumerate(self.symbols)
        )
        objectives = combine([f.sharpe for f in figures], self.positive_cells[row], self.cells,
                             [drawdowns[row] for drawdowns in self.max_drawdown],
                             [f.turnover for f in figures])
        return Evaluation(genome=genome, objectives=objectives, assets=figures,
                          period_origin_ms=self.origin, period_ms=self.period_ms,
                          period_returns=ledger)


def evaluate_genomes(
    genomes: Sequence[Genome], dataset: Dataset, config: EvaluationConfig
) -> list[Evaluation]:
    """The evaluation of each genome, in order (see the module docstring)."""
    signals = DatasetSignals(dataset)
    signals.prefetch(genomes)
    per_asset = [_genome_signals(g, signals) for g in genomes]
    check_lookahead_together(genomes, signals, per_asset, config)
    prepared = [s if isinstance(s, str) else _checked(g, signals, s, config)
                for g, s in zip(genomes, per_asset, strict=True)]
    runnable = {i: p for i, p in enumerate(prepared) if not isinstance(p, str)}
    batches = [
        simulate_batch(bars, window, [per_asset[asset] for per_asset in runnable.values()],
                       config.backtest)
        for asset, (bars, window) in enumerate(zip(dataset.bars, dataset.windows, strict=True))
    ]
    simulated = iter(_evaluations([genomes[i] for i in runnable], dataset, batches, config))
    return [failed(g, p) if isinstance(p, str) else next(simulated)
            for g, p in zip(genomes, prepared, strict=True)]


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
