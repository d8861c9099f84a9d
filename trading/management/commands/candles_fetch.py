"""python manage.py candles_fetch --exchange binance --symbol BTC/USDT --timeframe 1h
--since 2024-01-01 [--until 2024-06-01] [--market-type perp]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from organism.errors import DataError, OperationalError, TemporaryError
from trading.management.console import ProgressBar, parse_when, report_lines


class Command(BaseCommand):
    help = ("Backfill closed candles from an exchange through ccxt; resumes after the last "
            "stored candle.")

    def add_arguments(self, parser):
        parser.add_argument("--exchange", required=True)
        parser.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USDT")
        parser.add_argument("--timeframe", required=True)
        parser.add_argument("--since", help="YYYY-MM-DD, ISO datetime (UTC) or ms; optional when "
                            "candles are stored (then it resumes after the last one)")
        parser.add_argument("--until", help="exclusive end; default: the last closed bar")
        parser.add_argument("--market-type", default="spot", choices=["spot", "perp"])

    def handle(self, *args, **options):
        from trading.services.fetch import candles_fetch

        bar = ProgressBar("fetch", self.stderr._out, unit="bars")
        try:
            report = candles_fetch(
                exchange=options["exchange"], symbol=options["symbol"],
                timeframe=options["timeframe"], market_type=options["market_type"],
                since_ms=parse_when(options["since"]) if options["since"] else None,
                until_ms=parse_when(options["until"]) if options["until"] else None,
                progress=bar,
            )
        except (ValueError, DataError, TemporaryError, OperationalError) as exc:
            raise CommandError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            bar.close()
        if report.pk is None:
            self.stdout.write("Up to date: no new closed candles.")
            return
        for line in report_lines(report):
            self.stdout.write(line)
