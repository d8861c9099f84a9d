"""Store the summary of the trading kernel's decisions and events of event-driven runs."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("backtests", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="backtestresult",
            name="kernel_summary",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="event-driven runs: the engine, its agents, and counts of the trading "
                "kernel's decisions, skips by reason, breaker trips, orders and fills",
            ),
        ),
    ]
