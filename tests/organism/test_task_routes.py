"""Every task lands on the queue its workers listen to."""

import pytest

from organism.celery import app


@pytest.mark.parametrize(("task", "queue"), [
    ("trading.session_step", "trading"),
    ("trading.sessions_tick", "trading"),
    ("trading.candles_sync", "default"),
    ("backtests.run", "backtests"),
    ("backtests.recover", "default"),
    ("evolution.evaluate_batch", "evolution"),
    ("evolution.run_generation", "evolution"),
])
def test_it_routes_each_task_to_its_queue(task, queue):
    app.loader.import_default_modules()
    route = app.amqp.router.route({}, task)
    assert route["queue"].name == queue
