"""Run a genetic strategy evolution from the command line.

    python manage.py evolve --symbols BTC/USDT,ETH/USDT --timeframe 1h \\
        --population 100 --generations 30 --seed 42 [--start 2022-01-01 --end 2024-01-01] \\
        [--exchange binance] [--seeds ema_crossover,donchian_breakout,...] [--serial]

The run is created by the same service as the page and the API. By default its
generations are evaluated by the Celery workers (`-Q evolution`) and this command
follows the progress; `--serial` evaluates in this process without Celery (the
default in embedded mode, whose in-memory broker reaches no other process).
Ctrl-C stops the run after the current generation.
"""

from __future__ import annotations

import time
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from evolution.market_data import instruments_resolve, stored_range
from evolution.models import EvolutionRun
from evolution.selectors import run_get, run_strategy_rows
from evolution.services import (
    evolution_run_create,
    evolution_run_serial,
    evolution_run_stop,
)
from trading.instants import parse_instant
from trading.models import ms_to_datetime

POLL_SECONDS = 1.0
SUMMARY_ROWS = 10


def _instant(value: str, name: str) -> datetime:
    try:
        return ms_to_datetime(parse_instant(value))
    except ValueError as exc:
        raise CommandError(f"--{name}: {exc}") from None


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


class Command(BaseCommand):
    help = "Evolve strategies with the genetic algorithm (progress bar per generation)."

    def add_arguments(self, parser):
        parser.add_argument("--symbols", default="BTC/USDT,ETH/USDT",
                            help="comma-separated unified symbols")
        parser.add_argument("--exchange", default="binance")
        parser.add_argument("--market-type", default="spot", choices=["spot", "perp"])
        parser.add_argument("--timeframe", default="1h")
        parser.add_argument("--start", help="ISO date (UTC); default: --days before --end")
        parser.add_argument("--end", help="ISO date (UTC, exclusive); default: after the newest "
                                          "bar the instruments share")
        parser.add_argument("--days", type=int, default=365, help="range when --start is not given")
        parser.add_argument("--population", type=int, default=100)
        parser.add_argument("--generations", type=int, default=30)
        parser.add_argument("--seed", type=int, default=42, help="random seed of the run")
        parser.add_argument("--seeds", help="comma-separated strategy seeds (default: all 12)")
        parser.add_argument("--objectives", help="comma-separated objectives NSGA-II ranks on: "
                            "sharpe, consistency, max_drawdown, turnover (default: all four)")
        parser.add_argument("--batch-size", type=int, help="genomes per Celery task")
        parser.add_argument("--validate-top", type=int, default=10)
        parser.add_argument("--name", default="")
        parser.add_argument("--serial", action="store_true",
                            help="evaluate in this process, without Celery")

    def handle(self, *args, **options):
        serial = options["serial"] or settings.EMBEDDED
        if settings.EMBEDDED and not options["serial"]:
            self.stdout.write("Embedded mode: evaluating in this process (--serial).")
        try:
            run = evolution_run_create(user=None, enqueue=not serial,
                                       executor="serial" if serial else "celery",
                                       **self._run_values(options))
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in
                                         exc.message_dict.items())) from None
        self.stdout.write(f"Evolution run #{run.pk}: {run.population} genomes x "
                          f"{run.generations} generations on "
                          f"{', '.join(i['symbol'] for i in run.dataset['instruments'])} "
                          f"{run.timeframe} {run.start:%Y-%m-%d}..{run.end:%Y-%m-%d}")
        if not serial:
            self.stdout.write("Evaluated by the Celery workers of the 'evolution' queue "
                              "(celery -A organism worker -Q evolution); Ctrl-C stops the run.")
        with tqdm(total=run.generations, unit="gen", desc=f"run #{run.pk}") as bar:
            try:
                self._follow(run, bar, serial)
            except KeyboardInterrupt:
                self._interrupt(run)
                raise CommandError(f"interrupted; run #{run.pk} stops after this generation") \
                    from None
        self._summary(run.pk)

    def _run_values(self, options) -> dict:
        instruments = instruments_resolve(exchange=options["exchange"],
                                          symbols=_csv(options["symbols"]) or [],
                                          market_type=options["market_type"])
        if options["start"]:
            start = _instant(options["start"], "start")
            end = _instant(options["end"], "end") if options["end"] else \
                stored_range(instruments, options["timeframe"], lookback_days=10**6)[1]
        else:
            start, end = stored_range(instruments, options["timeframe"],
                                      lookback_days=options["days"])
            if options["end"]:
                end = _instant(options["end"], "end")
        return {"name": options["name"], "instrument_ids": [i.pk for i in instruments],
                "timeframe": options["timeframe"], "start": start, "end": end,
                "population": options["population"], "generations": options["generations"],
                "random_seed": options["seed"], "seeds": _csv(options["seeds"]),
                "objectives": _csv(options["objectives"]),
                "batch_size": options["batch_size"], "validate_top": options["validate_top"],
                "hall_of_fame_size": max(10, options["validate_top"])}

    def _follow(self, run: EvolutionRun, bar: tqdm, serial: bool) -> None:
        def advance(current: EvolutionRun, stats=None) -> None:
            bar.update(current.completed_generations - bar.n)
            if current.best_combined is not None:
                bar.set_postfix(best=f"{current.best_combined:.3f}",
                                status=current.progress_message[:30])

        if serial:
            evolution_run_serial(run_id=run.pk, on_generation=advance)
            return
        while True:
            current = run_get(run.pk)
            assert current is not None
            advance(current)
            if current.is_finished:
                return
            time.sleep(POLL_SECONDS)

    def _interrupt(self, run: EvolutionRun) -> None:
        current = run_get(run.pk)
        if current is not None and not current.is_finished:
            try:
                evolution_run_stop(run=current)
            except Exception as exc:  # noqa: BLE001 - already stopping or finished
                self.stderr.write(str(exc))

    def _summary(self, run_id: int) -> None:
        run = run_get(run_id)
        assert run is not None
        self.stdout.write(f"Run #{run.pk} {run.status} in {run.evaluation_seconds:.1f}s "
                          f"(+{run.validation_seconds:.1f}s validation)")
        if run.error_message:
            self.stderr.write(run.error_message)
        if run.deflated_sharpe is not None or run.pbo is not None:
            self.stdout.write(f"Deflated Sharpe {run.deflated_sharpe}  PBO {run.pbo}")
        for row in run_strategy_rows(run, "hall_of_fame")[:SUMMARY_ROWS]:
            oos = row.validation.get("out_of_sample_objectives", {}).get("combined")
            oos_text = "n/a" if oos is None else f"{oos:.3f}"
            self.stdout.write(f"  {row.identity:<60} IS {row.objectives['combined']:.3f}  "
                              f"OOS {oos_text}  {row.description[:80]}")
