from django.apps import AppConfig


class EvolutionConfig(AppConfig):
    name = "evolution"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from evolution.backtest_strategies import register_backtest_strategies
        from evolution.engine.datasets import DATASETS
        from evolution.live_updates import generation_fragment
        from evolution.market_data import dataset_load
        from evolution.services.schedule import evolution_schedules
        from organism import live_fragments
        from organism.schedules import on_migrate

        # Workers build a run's dataset from its key once per process (DB -> numpy).
        DATASETS.set_loader(dataset_load)
        # The seeds and every genome structure can be backtested like any strategy.
        register_backtest_strategies()
        # Live run pages: status, progress and the convergence chart, out of band.
        live_fragments.register("evolution.generation", generation_fragment)
        # Beat entries ("Scheduled evolution", the stuck-run check), created by `migrate`.
        on_migrate(self, evolution_schedules())
