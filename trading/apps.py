from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Live pages: a stored candle updates the "latest candle" cells out of band.
        from organism import live_fragments
        from trading.live_updates import latest_candle_fragment

        live_fragments.register("candle.stored", latest_candle_fragment)
