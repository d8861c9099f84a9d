"""python manage.py trading_session_run SESSION_ID [--steps N]

Runs a trading session's loop in the foreground (no Celery): the same claimed,
checkpointed, journaled steps the workers run, back to back, until the
session stops, the replay ends or N steps are done. Useful to replay a session
as fast as possible or to watch one from a terminal.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run a trading session's steps in this process (replays run as fast as possible)."

    def add_arguments(self, parser):
        parser.add_argument("session_id", type=int)
        parser.add_argument("--steps", type=int, default=0, help="stop after N steps (0: no limit)")
        parser.add_argument("--follow-cadence", action="store_true",
                            help="wait for each step's due time instead of running back to back")

    def handle(self, *args, **options):
        from trading.models import TradingSession
        from trading.services.session_loop import session_step

        session_id, limit = options["session_id"], options["steps"]
        if not TradingSession.objects.filter(pk=session_id).exists():
            raise CommandError(f"no trading session {session_id}")
        steps = candles = 0
        started = time.perf_counter()
        while not limit or steps < limit:
            if not options["follow_cadence"]:
                TradingSession.objects.filter(pk=session_id).update(next_step_at=None)
            result = session_step(session_id=session_id, schedule=False)
            if result.outcome == "not_claimed":
                if options["follow_cadence"] and TradingSession.objects.filter(
                        pk=session_id).exclude(status="stopped").exists():
                    time.sleep(0.2)
                    continue
                break
            steps, candles = steps + 1, candles + result.candles
            if result.next_step_at is None:
                break
        elapsed = time.perf_counter() - started
        rate = candles / elapsed if elapsed > 0 else 0.0
        session = TradingSession.objects.get(pk=session_id)
        self.stdout.write(f"{steps} steps, {candles} candles in {elapsed:.1f}s ({rate:,.0f} "
                          f"candles/s); status {session.status}, equity {session.equity}")
