"""What the evolution pages show: run facts, convergence and Pareto figures, the strategies
table with in-sample and out-of-sample side by side, a strategy's genome, metrics and lineage.

Guarantees: built from stored rows (plus, for a strategy page, its on-demand
backtest); figure JSON comes from `charts.py`, keyed by a DOM-safe id; the same
`convergence_charts` feed the page and the live fragment, so a live update draws
exactly what a reload would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from evolution import charts
from evolution.engine.genome import Genome
from evolution.engine.seeds import SEEDS
from evolution.models import EvolutionRun, GenerationStat, Strategy
from evolution.selectors import (
    run_generation_stats,
    run_strategy_rows,
    strategy_lineage,
    strategy_runs,
)
from evolution.strategy_preview import strategy_preview

SIDE_BY_SIDE_ROWS = (("sharpe", "Sharpe", "ratio"), ("total_return", "Total return", "pct"),
                     ("annualized_return", "Annualised return", "pct"),
                     ("max_drawdown", "Max drawdown", "pct"), ("sortino", "Sortino", "ratio"),
                     ("calmar", "Calmar", "ratio"), ("volatility", "Volatility", "pct"))
STAGES = (("in_sample", "In-sample"), ("out_of_sample", "Out-of-sample"),
          ("walk_forward", "Walk-forward"))


@dataclass(frozen=True)
class Figure:
    id: str
    json: str
    wide: bool = True


def strategy_url(identity: str) -> str:
    return reverse("evolution:strategy", args=[identity])


def convergence_charts(run_id: int, stats: Sequence[GenerationStat] | None = None
                       ) -> list[Figure]:
    stats = list(run_generation_stats(run_id)) if stats is None else list(stats)
    if not stats:
        return []
    return [Figure(f"convergence-{run_id}", charts.figure_json(charts.convergence_figure(stats))),
            Figure(f"objectives-{run_id}", charts.figure_json(charts.objectives_figure(stats)))]


def _pareto_figure(run: EvolutionRun) -> Figure | None:
    pareto = (run.hall_of_fame or {}).get("pareto", [])
    if not pareto:
        return None
    urls = {e["identity"]: strategy_url(e["identity"]) for e in pareto}
    return Figure(f"pareto-{run.pk}", charts.figure_json(charts.pareto_figure(pareto, urls)))


def run_detail_context(run: EvolutionRun) -> dict[str, Any]:
    stats = list(run_generation_stats(run))
    rows = run_strategy_rows(run, "hall_of_fame")
    return {
        "run": run,
        "live": live_state(run),
        "instruments": list(run.instruments.all()),
        "stats": stats,
        "convergence": convergence_charts(run.pk, stats),
        "pareto": _pareto_figure(run),
        "reported": [r for r in rows if r.lookahead_passed],
        "rejected": [r for r in rows if not r.lookahead_passed],
        "pareto_count": len((run.hall_of_fame or {}).get("pareto", [])),
        "stages": STAGES,
        "validated": bool(run.validation),
        "overfitting": run.overfitting or {},
        "seed_titles": {name: SEEDS[name].title for name in run.seeds if name in SEEDS},
    }


def live_state(run: EvolutionRun | Mapping[str, Any]) -> dict[str, Any]:
    """What the status badge and progress bar show, from a run or an event payload."""
    if isinstance(run, EvolutionRun):
        return {"pk": run.pk, "status": run.status, "progress": run.progress,
                "progress_message": run.progress_message, "is_finished": run.is_finished,
                "generation": run.completed_generations, "generations": run.generations,
                "best_combined": run.best_combined}
    return {"pk": run["run_id"], "status": run["status"], "progress": run["progress"],
            "progress_message": run.get("message", ""),
            "is_finished": run["status"] in EvolutionRun.FINISHED,
            "generation": run["generation"], "generations": run.get("generations"),
            "best_combined": run.get("best_combined")}


def _blocks(genome: Genome) -> list[dict[str, Any]]:
    out = []
    for block in genome.blocks():
        space = block.strategy.param_space
        out.append({"role": block.role, "seed": block.seed, "title": block.strategy.title,
                    "params": [{"name": p.name, "value": block.params[p.name],
                                "description": p.description, "default": p.default}
                               for p in space]})
    return out


def _side_by_side(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    table = metrics.get("side_by_side") or {}
    return [{"key": key, "label": label, "unit": unit,
             "values": [(table.get(key) or {}).get(stage) for stage, _ in STAGES]}
            for key, label, unit in SIDE_BY_SIDE_ROWS]


def strategy_detail_context(strategy: Strategy, instrument_id: int | None) -> dict[str, Any]:
    genome = Genome.from_dict(strategy.genome)
    runs = list(strategy_runs(strategy))
    source = strategy.run or (runs[-1] if runs else None)
    preview = strategy_preview(strategy, source, instrument_id) if source else None
    equity = None
    if preview is not None:
        equity = Figure(f"equity-{strategy.pk}", charts.figure_json(
            charts.equity_with_splits_figure(preview.curve, preview.windows)))
    return {
        "strategy": strategy, "genome": genome, "blocks": _blocks(genome),
        "lineage": strategy_lineage(strategy), "runs": runs, "source_run": source,
        "instruments": list(source.instruments.all()) if source else [],
        "side_by_side": _side_by_side(strategy.metrics or {}), "stages": STAGES,
        "per_instrument": (strategy.metrics or {}).get("instruments", {}),
        "oos_objectives": (strategy.metrics or {}).get("out_of_sample_objectives"),
        "preview": preview, "equity": equity,
        "thorough_lookahead": (strategy.lookahead or {}).get("thorough"),
    }
