from django.apps import AppConfig


class BacktestsConfig(AppConfig):
    name = "backtests"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from backtests.live_updates import progress_fragment
        from organism import live_fragments

        live_fragments.register("backtest.progress", progress_fragment)

        from organism.schedules import Schedule, on_migrate

        on_migrate(self, (Schedule("Recover lost backtest sessions", "backtests.recover", 300),))
