from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Live pages: a stored candle updates the "latest candle" cells out of band.
        from organism import live_fragments
        from trading.live_updates import latest_candle_fragment
        from trading.session_live import session_update_fragment

        live_fragments.register("candle.stored", latest_candle_fragment)
        # Trading sessions: status, positions, orders, votes, alerts and trades, per step.
        live_fragments.register("trading.update", session_update_fragment)

        from organism.schedules import Schedule, on_migrate

        on_migrate(self, (
            Schedule("Sync latest candles from exchanges", "trading.candles_sync", 300),
            Schedule("Resume trading sessions", "trading.sessions_tick", 10, queue="trading"),
        ))
