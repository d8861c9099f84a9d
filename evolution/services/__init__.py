"""Evolution use-cases (services write; each is one transaction, events after commit).

- runs: create, stop, resume, fail, the stale-run check;
- generations: claim and fan out a generation, evaluate a batch, store a generation;
- finish: validate the best strategies, DSR/PBO, complete the run;
- serial: run a whole evolution in-process;
- strategies: open an evolved strategy as a backtest, lifecycle status;
- schedule: the Celery beat entries and the scheduled run.
"""

from evolution.services.finish import run_finish, strategy_validation_compute
from evolution.services.generations import (
    generation_batch_evaluate,
    generation_complete,
    generation_dispatch,
)
from evolution.services.runs import (
    RunFinishedError,
    RunNotResumableError,
    evolution_resume,
    evolution_run_create,
    evolution_run_fail,
    evolution_run_stop,
    evolution_stale_runs_resume,
)
from evolution.services.schedule import evolution_scheduled_run, evolution_schedules
from evolution.services.serial import evolution_run_serial
from evolution.services.strategies import strategy_open_as_backtest, strategy_status_set

__all__ = [
    "RunFinishedError",
    "RunNotResumableError",
    "evolution_resume",
    "evolution_run_create",
    "evolution_run_fail",
    "evolution_run_serial",
    "evolution_run_stop",
    "evolution_scheduled_run",
    "evolution_schedules",
    "evolution_stale_runs_resume",
    "generation_batch_evaluate",
    "generation_complete",
    "generation_dispatch",
    "run_finish",
    "strategy_open_as_backtest",
    "strategy_status_set",
    "strategy_validation_compute",
]
