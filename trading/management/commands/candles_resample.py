"""python manage.py candles_resample --symbol BTC/USDT --from 1h --to 4h"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from trading.management.console import report_lines


class Command(BaseCommand):
    help = "Store higher-timeframe candles aggregated from stored ones (UTC-aligned)."

    def add_arguments(self, parser):
        parser.add_argument("--exchange", default="binance")
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--market-type", default="spot", choices=["spot", "perp"])
        parser.add_argument("--from", dest="source", required=True, help="source timeframe")
        parser.add_argument("--to", dest="target", required=True, help="target timeframe")
        parser.add_argument("--keep-partial", action="store_true",
                            help="keep (flagged) partial bars at the edges instead of dropping")
        parser.add_argument("--replace", action="store_true",
                            help="delete stored target-timeframe candles first")

    def handle(self, *args, **options):
        from trading.services.instruments import instrument_find
        from trading.services.resample import candles_resample

        instrument = instrument_find(exchange=options["exchange"], symbol=options["symbol"],
                                     market_type=options["market_type"])
        if instrument is None:
            raise CommandError(f"no instrument {options['exchange']} {options['symbol']} "
                               f"({options['market_type']})")
        try:
            report = candles_resample(
                instrument=instrument, source_timeframe=options["source"],
                target_timeframe=options["target"],
                edge_partial="flag" if options["keep_partial"] else "drop",
                replace=options["replace"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for line in report_lines(report):
            self.stdout.write(line)
        details = report.details
        self.stdout.write(f"  {details['incomplete_bar_count']} bars built from incomplete "
                          f"source data ({details['missing_source_bars']} source bars missing); "
                          f"{len(details['dropped_edge_bars'])} partial edge bar(s) dropped")
