"""Scheduled evolution: the Celery beat entries and the run they start.

Guarantees: `evolution_schedules()` declares the beat entries that `migrate`
creates once (organism.schedules, registered in `EvolutionConfig.ready`; an
operator's edits in the admin are kept): "Scheduled evolution" (weekly, task
`evolution.scheduled_run`, its kwargs the run configuration) and "Resume stuck
evolution runs" (every 10 minutes, `evolution.stale_runs_check`), both on the
`evolution` queue. `evolution_scheduled_run` resolves the configured instruments
(no `symbols`: the stored 1h spot instruments, BTC and ETH first, two at most),
scores the last `lookback_days` of their stored data (ending at the newest common
bar), and creates the run through `evolution_run_create` (same validation;
unknown symbols are a ValidationError on "symbols"). Without a configured
`random_seed` the seed is the day number of the range's end, so a scheduled run
is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError

from evolution.market_data import DAY_MS, instruments_resolve, stored_range
from evolution.models import EvolutionRun
from evolution.services.runs import evolution_run_create
from organism.schedules import Schedule
from trading.models import Instrument

SCHEDULE_NAME = "Scheduled evolution"
STALE_CHECK_NAME = "Resume stuck evolution runs"
WEEK_SECONDS = 7 * 86_400
PREFERRED_BASES = ("BTC", "ETH", "SOL")
SCHEDULED_RUN_DEFAULTS: dict[str, Any] = {
    "exchange": None, "symbols": None, "timeframe": "1h", "lookback_days": 365,
    "population": 50, "generations": 20, "seeds": None, "random_seed": None,
}


def evolution_schedules() -> tuple[Schedule, ...]:
    return (
        Schedule(SCHEDULE_NAME, "evolution.scheduled_run", WEEK_SECONDS, queue="evolution",
                 kwargs=dict(SCHEDULED_RUN_DEFAULTS)),
        Schedule(STALE_CHECK_NAME, "evolution.stale_runs_check", 600, queue="evolution"),
    )


def stored_instruments(timeframe: str, limit: int = 2) -> list[Instrument]:
    """Spot instruments with candles of `timeframe` on one exchange, BTC, ETH, SOL first."""
    stored = (Instrument.objects.filter(market_type=Instrument.MarketType.SPOT,
                                        candles__timeframe=timeframe)
              .select_related("exchange").distinct())
    ranked = sorted(stored, key=lambda i: (PREFERRED_BASES.index(i.base) if i.base in
                                           PREFERRED_BASES else len(PREFERRED_BASES), i.symbol))
    if not ranked:
        raise ValidationError({"symbols": f"no spot instrument has {timeframe} candles"})
    return [i for i in ranked if i.exchange_id == ranked[0].exchange_id][:limit]


def evolution_scheduled_run(*, exchange: str | None = None, symbols: Sequence[str] | None = None,
                            market_type: str = "spot", timeframe: str = "1h",
                            lookback_days: int = 365, random_seed: int | None = None,
                            **values: Any) -> EvolutionRun:
    """Create the scheduled run (see the module docstring); `values` go to the run."""
    if symbols:
        instruments = instruments_resolve(exchange=exchange or "binance", symbols=symbols,
                                          market_type=market_type)
    else:
        instruments = stored_instruments(timeframe)
    start, end = stored_range(instruments, timeframe, lookback_days=int(lookback_days))
    seed = random_seed if random_seed is not None else int(end.timestamp() * 1000) // DAY_MS
    return evolution_run_create(
        user=None, name=f"Scheduled {end:%Y-%m-%d}", instrument_ids=[i.pk for i in instruments],
        timeframe=timeframe, start=start, end=end, random_seed=seed, **values)
