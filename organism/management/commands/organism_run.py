"""Run Organism: migrate, first-run setup, then serve web + worker + scheduler."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from organism.embedded.bootstrap import bootstrap
from organism.embedded.runner import RunOptions, run_embedded, run_supervised


class Command(BaseCommand):
    help = "Migrate, create the admin user, load sample data and serve everything (Ctrl-C stops)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=4, help="Celery worker threads/processes")
        parser.add_argument("--shutdown-grace", type=float, default=30.0,
                            help="Seconds running tasks get to finish after Ctrl-C (embedded mode)")
        parser.add_argument("--no-bootstrap", action="store_true", help="Skip admin user and sample data")

    def handle(self, *args, host: str, port: int, concurrency: int, shutdown_grace: float,
               no_bootstrap: bool, **options):
        say = lambda msg: self.stdout.write(msg)  # noqa: E731
        call_command("migrate", interactive=False, verbosity=0)
        if not no_bootstrap:
            bootstrap(say=say)
        run_options = RunOptions(host=host, port=port, worker_concurrency=concurrency,
                                 shutdown_grace=shutdown_grace)
        mode = "embedded" if settings.EMBEDDED else "distributed"
        say(f"Mode: {mode}; database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        if settings.EMBEDDED:
            run_embedded(run_options)
        else:
            run_supervised(run_options)
