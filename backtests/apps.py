from django.apps import AppConfig


class BacktestsConfig(AppConfig):
    name = "backtests"
    default_auto_field = "django.db.models.BigAutoField"
