"""python manage.py candles_import PATH --exchange binance --symbol BTC/USDT --timeframe 1h"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from trading.management.console import ProgressBar, rejection_message, report_lines


class Command(BaseCommand):
    help = "Import candles from a CSV, CSV.gz or Parquet file (idempotent), with a quality report."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--exchange", required=True, help="ccxt exchange id, e.g. binance")
        parser.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USDT")
        parser.add_argument("--timeframe", required=True, help="e.g. 1h")
        parser.add_argument("--market-type", default="spot", choices=["spot", "perp"])

    def handle(self, *args, **options):
        from trading.services.candles import candles_import

        bar = ProgressBar("import", self.stderr._out)
        try:
            report = candles_import(
                path=options["path"], exchange=options["exchange"], symbol=options["symbol"],
                timeframe=options["timeframe"], market_type=options["market_type"], progress=bar,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        if report.status == report.Status.REJECTED:
            raise CommandError(f"{options['path']}: {rejection_message(report)}")
        for line in report_lines(report):
            self.stdout.write(line)
