"""Read-side queries for backtest sessions: lists, one session, results, comparisons.

Read-only; every list is bounded by its caller. Sorting accepts only the
names in `SORTABLE` (a leading "-" for descending); sessions without a figure
(still running, failed) sort last either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import Count, Exists, F, OuterRef, QuerySet

from backtests.models import BacktestResult, BacktestSession
from trading.models import Candle, Instrument

SORTABLE: tuple[str, ...] = (
    "id", "created_at", "name", "strategy", "status", "total_return", "annualized_return",
    "sharpe", "sortino", "max_drawdown", "win_rate", "profit_factor", "trade_count",
)
DEFAULT_SORT = "-created_at"
# Result sections a comparison never reads (it needs statistics and the equity curve).
COMPARE_DEFERRED = ("trades", "time_analysis", "monte_carlo", "walk_forward", "splits",
                    "lookahead", "kernel_summary")


def sort_key(sort: str | None) -> str:
    """`sort` when it names a sortable column (optionally "-"-prefixed), else the default."""
    if sort and sort.lstrip("-") in SORTABLE:
        return sort
    return DEFAULT_SORT


def _ordered(qs: QuerySet[BacktestSession], sort: str) -> QuerySet[BacktestSession]:
    name = sort.lstrip("-")
    field = F(name).desc(nulls_last=True) if sort.startswith("-") else F(name).asc(nulls_last=True)
    return qs.order_by(field, "-id")


def backtest_list(*, sort: str | None = None, status: str | None = None,
                  strategy: str | None = None) -> QuerySet[BacktestSession]:
    qs = BacktestSession.objects.select_related("created_by").prefetch_related(
        "instruments__exchange"
    )
    if status:
        qs = qs.filter(status=status)
    if strategy:
        qs = qs.filter(strategy=strategy)
    return _ordered(qs, sort_key(sort))


def backtest_get(session_id: int) -> BacktestSession | None:
    return (
        BacktestSession.objects.select_related("created_by", "rerun_of")
        .prefetch_related("instruments__exchange")
        .filter(pk=session_id)
        .first()
    )


def backtest_result_get(session: BacktestSession | int) -> BacktestResult | None:
    session_id = session if isinstance(session, int) else session.pk
    return BacktestResult.objects.filter(session_id=session_id).first()


def backtest_compare_list(ids: Sequence[int]) -> list[BacktestSession]:
    """The sessions of `ids` (unknown ids dropped) in the order given, results attached."""
    found = {
        s.pk: s
        for s in BacktestSession.objects.select_related("result", "created_by")
        .defer(*(f"result__{name}" for name in COMPARE_DEFERRED))
        .prefetch_related("instruments__exchange")
        .filter(pk__in=ids)
    }
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def backtest_unfinished_ids(sessions: Iterable[BacktestSession]) -> list[int]:
    return [s.pk for s in sessions if not s.is_finished]


def instrument_list_by_ids(ids: Sequence[int]) -> list[Instrument]:
    """Instruments of `ids` in the order given (unknown ids dropped)."""
    found = {i.pk: i for i in Instrument.objects.select_related("exchange").filter(pk__in=ids)}
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def candle_counts(instrument_ids: Sequence[int], timeframe: str, *, start_ms: int,
                  end_ms: int) -> dict[int, int]:
    """Stored bars per instrument in [start_ms, end_ms) (0 for an instrument without any)."""
    rows = (
        Candle.objects.filter(instrument_id__in=instrument_ids, timeframe=timeframe,
                              open_time__gte=start_ms, open_time__lt=end_ms)
        .values("instrument_id")
        .annotate(bars=Count("id"))
        .order_by()
    )
    counts = {i: 0 for i in instrument_ids}
    counts.update({r["instrument_id"]: r["bars"] for r in rows})
    return counts


def instrument_choices() -> QuerySet[Instrument]:
    """Instruments that have candles, for the backtest form."""
    return (
        Instrument.objects.select_related("exchange")
        .filter(Exists(Candle.objects.filter(instrument_id=OuterRef("pk"))))
        .order_by("exchange__code", "symbol", "market_type")
    )


def ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(moment.timestamp() * 1000)
