"""python manage.py funding_import PATH --exchange binance --symbol BTC/USDT"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from trading.management.console import ProgressBar, rejection_message, report_lines


class Command(BaseCommand):
    help = "Import perpetual funding rates (timestamp, funding_rate) into the perp instrument."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--exchange", required=True)
        parser.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USDT")

    def handle(self, *args, **options):
        from trading.services.candles import funding_import

        bar = ProgressBar("import", self.stderr._out)
        try:
            report = funding_import(path=options["path"], exchange=options["exchange"],
                                    symbol=options["symbol"], progress=bar)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        if report.status == report.Status.REJECTED:
            raise CommandError(f"{options['path']}: {rejection_message(report)}")
        for line in report_lines(report):
            self.stdout.write(line)
