"""python manage.py backtest_run --strategy sma_crossover --symbol BTC/USDT --timeframe 1h
--start 2022-01-01 --end 2023-01-01 [--exchange binance] [--param fast=10 --param slow=50]
[--kind event_driven --engine agents --risk-profile moderate --strategy-weight 1]

Runs a backtest session synchronously (stored like any other, visible on the
pages) with a progress bar, then prints a summary table. Bad input exits
non-zero with the reason.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from backtests.options import EVENT_ENGINES, RISK_PROFILES, SPECS_BY_KIND, option_names
from backtests.templatetags.backtest_format import metric
from trading.management.console import parse_when
from trading.models import ms_to_datetime

SUMMARY: tuple[tuple[str, str, str, str], ...] = (
    ("performance", "total_return", "Total return", "pct"),
    ("performance", "annualized_return", "Annualised return", "pct"),
    ("performance", "sharpe", "Sharpe", "ratio"),
    ("performance", "sortino", "Sortino", "ratio"),
    ("performance", "calmar", "Calmar", "ratio"),
    ("performance", "max_drawdown", "Max drawdown", "pct"),
    ("performance", "max_drawdown_days", "Max drawdown duration", "days"),
    ("risk", "volatility", "Volatility", "pct"),
    ("performance", "win_rate", "Win rate", "pct"),
    ("performance", "profit_factor", "Profit factor", "ratio"),
    ("performance", "expectancy", "Expectancy", "money"),
    ("trades", "trades", "Trades", "count"),
    ("performance", "exposure", "Exposure", "pct"),
    ("costs", "total_fees", "Fees paid", "money"),
    ("performance", "final_equity", "Final equity", "money"),
    ("benchmark", "total_return", "Buy-and-hold return", "pct"),
)


def parse_param(text: str) -> tuple[str, Any]:
    """'fast=10' -> ('fast', 10); values are read as JSON (numbers, true/false), else text."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise CommandError(f"--param {text!r}: expected NAME=VALUE, e.g. --param fast=10")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name.strip(), value


class Command(BaseCommand):
    help = ("Run a backtest (vectorised or event-driven) now, with a progress bar and a summary "
            "of its statistics.")

    def add_arguments(self, parser):
        parser.add_argument("--strategy", required=True, help="e.g. sma_crossover")
        parser.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USDT")
        parser.add_argument("--timeframe", required=True, help="e.g. 1h")
        parser.add_argument("--start", required=True, help="YYYY-MM-DD or ISO date-time (UTC)")
        parser.add_argument("--end", required=True, help="exclusive; YYYY-MM-DD or ISO (UTC)")
        parser.add_argument("--exchange", default="binance")
        parser.add_argument("--market-type", default="spot", choices=["spot", "perp"])
        parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
        parser.add_argument("--cash", type=float, default=10_000.0, help="initial cash")
        parser.add_argument("--taker-fee", type=float, default=0.0005)
        parser.add_argument("--maker-fee", type=float, default=0.0002)
        parser.add_argument("--slippage", type=float, default=0.0005)
        parser.add_argument("--allow-short", action="store_true")
        parser.add_argument("--monte-carlo-paths", type=int, default=10_000)
        parser.add_argument("--walk-forward-windows", type=int, default=5)
        parser.add_argument("--no-splits", action="store_true",
                            help="skip the 60/20/20 in-sample / out-of-sample validation")
        parser.add_argument("--name", default="")
        parser.add_argument("--kind", default="vectorized", choices=list(SPECS_BY_KIND))
        parser.add_argument("--engine", default="strategy", choices=list(EVENT_ENGINES),
                            help="event-driven: the strategy alone, or every agent")
        parser.add_argument("--risk-profile", default="moderate", choices=list(RISK_PROFILES),
                            help="event-driven agents engine")
        parser.add_argument("--strategy-weight", type=float, default=1.0,
                            help="event-driven agents engine: the strategy's vote weight")

    def handle(self, *args, **options):
        from backtests.services import backtest_create, backtest_execute
        from trading.services.instruments import instrument_find

        instrument = instrument_find(exchange=options["exchange"], symbol=options["symbol"],
                                     market_type=options["market_type"])
        if instrument is None:
            raise CommandError(
                f"no {options['market_type']} instrument {options['symbol']} on "
                f"{options['exchange']}; load candles first (python manage.py candles_import)")
        session = self._create(backtest_create, instrument, options)
        self.stdout.write(f"Backtest #{session.pk} {session.name}")
        bar = tqdm(total=100, desc="backtest", unit="%", file=self.stderr._out,
                   bar_format="{l_bar}{bar}| {n:.0f}%{postfix}")

        def progress(fraction: float, message: str) -> None:
            bar.set_postfix_str(message)
            bar.update(round(100 * fraction) - bar.n)

        try:
            session = backtest_execute(session_id=session.pk, on_progress=progress)
        finally:
            bar.close()
        if session.status != "completed":
            raise CommandError(f"backtest #{session.pk} {session.status}: "
                               f"{session.error_message or session.progress_message}")
        for line in summary_lines(session):
            self.stdout.write(line)

    def _create(self, backtest_create, instrument, options):
        start, end = (ms_to_datetime(parse_when(options[k])) for k in ("start", "end"))
        params = dict(parse_param(p) for p in options["param"])
        name = options["name"] or (f"{options['strategy']} {instrument.symbol} "
                                   f"{options['timeframe']} {options['start']}..{options['end']}")
        try:
            return backtest_create(
                user=None, name=name, strategy=options["strategy"], params=params,
                instrument_ids=[instrument.pk], timeframe=options["timeframe"], start=start,
                end=end, initial_cash=options["cash"],
                costs={"maker_fee": options["maker_fee"], "taker_fee": options["taker_fee"],
                       "slippage": options["slippage"]},
                sizing={"mode": "fraction", "value": 1.0},
                options=_session_options(options), kind=options["kind"], enqueue=False,
            )
        except ValidationError as exc:
            lines = [f"  {field}: {'; '.join(msgs)}" for field, msgs in exc.message_dict.items()]
            raise CommandError("invalid backtest:\n" + "\n".join(lines)) from None


def _session_options(options: dict[str, Any]) -> dict[str, Any]:
    """The session options the command line sets, those of the chosen kind only."""
    given = {
        "allow_short": options["allow_short"],
        "monte_carlo_paths": options["monte_carlo_paths"],
        "walk_forward_windows": options["walk_forward_windows"],
        "splits": not options["no_splits"],
        "engine": options["engine"],
        "risk_profile": options["risk_profile"],
        "strategy_weight": options["strategy_weight"],
    }
    names = option_names(options["kind"])
    return {name: value for name, value in given.items() if name in names}


def summary_lines(session) -> list[str]:
    """The key statistics of a completed session as an aligned two-column table."""
    result = session.result
    rows = [(label, metric(result.statistics.get(section, {}).get(key), unit))
            for section, key, label, unit in SUMMARY]
    mc = result.monte_carlo
    if not mc.get("skipped"):
        rows += [("Monte Carlo median return", metric(mc["median_return"], "pct")),
                 ("Monte Carlo 5% / 95%", f"{metric(mc['return_p5'], 'pct')} / "
                                          f"{metric(mc['return_p95'], 'pct')}"),
                 ("Probability of loss", metric(mc["probability_of_loss"], "pct"))]
    wf = result.walk_forward
    if not wf.get("skipped"):
        rows += [("Walk-forward OOS return", metric(wf["oos_figures"].get("total_return"), "pct")),
                 ("Walk-forward efficiency", metric(wf.get("efficiency")))]
    splits = result.splits.get("side_by_side", {}).get("sharpe")
    if splits:
        rows.append(("Sharpe IS / OOS / WF", " / ".join(
            metric(splits.get(k)) for k in ("in_sample", "out_of_sample", "walk_forward"))))
    kernel = result.kernel_summary
    if kernel:
        actions = kernel["decisions"]["by_action"]
        rows += [("Kernel engine", kernel["engine"]),
                 ("Decisions (skipped)", f"{kernel['decisions']['total']} "
                                         f"({actions.get('SKIP', 0)})"),
                 ("Circuit-breaker trips", str(kernel["breakers"]["trips"]))]
    look = result.lookahead
    rows.append(("Lookahead check", "skipped" if look.get("skipped")
                 else "passed" if look.get("passed") else "FAILED"))
    width = max(len(label) for label, _ in rows)
    rule = "-" * (width + 20)
    return [rule, *(f"{label:<{width}}  {value:>18}" for label, value in rows), rule]
