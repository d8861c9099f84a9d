"""Backfill candles from an exchange through ccxt, and the scheduled sync.

Guarantees:
- Only closed bars are stored: the window ends at the open time of the bar
  still in progress (from the injected clock).
- Resumable: what is already stored is not fetched again. With candles stored
  from F to L the windows fetched are [since, F) and [max(since, L + 1 bar),
  until); with none, [since, until). Each page is stored in its own
  transaction, so an interrupted backfill resumes from its last stored page.
- A malformed page stores nothing of that page, leaves a rejected quality
  report and raises `DataError`. Network trouble that outlasts the retries
  raises `TemporaryError` (the pages stored so far stay stored).
- A backfill that fetched candles stores a quality report over them (gaps are
  measured including the boundary with the candles already stored). One that
  found nothing new stores no report and returns an unsaved one saying so.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from organism.errors import DataError, OperationalError, TemporaryError
from trading.engine.market import timeframe_ms
from trading.engine.quality import QualityFindings, check_candles, find_gaps
from trading.models import Candle, DataQualityReport, Instrument
from trading.services.bulk_load import LoadResult, Progress
from trading.services.candles import candles_store
from trading.services.exchange_client import ExchangeClient, MalformedPage, RetryPolicy
from trading.services.instruments import instrument_find, instrument_get_or_create
from trading.services.quality_reports import quality_report_create

log = logging.getLogger(__name__)

Clock = Callable[[], int]  # ms since the epoch
PAGE_LIMIT = 1000


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Progress:
    """Rows fetched so far, reported against the number of bars in the windows."""

    total: int
    callback: Progress | None
    done: int = 0

    def add(self, rows: int) -> None:
        self.done += rows
        if self.callback is not None:
            self.callback(min(self.done, self.total), self.total)


@dataclass
class _Fetched:
    rows: list[list] = dataclasses.field(default_factory=list)
    inserted: int = 0
    existing: int = 0
    pages: int = 0

    def loaded(self) -> LoadResult:
        return LoadResult(len(self.rows), self.inserted, self.existing, None)


def candles_fetch(
    *,
    exchange: str,
    symbol: str,
    timeframe: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
    market_type: str = "spot",
    progress: Progress | None = None,
    page_limit: int = PAGE_LIMIT,
    retry: RetryPolicy | None = None,
    clock: Clock = wall_clock_ms,
) -> DataQualityReport:
    """Backfill closed candles of [since_ms, until_ms) (resuming from what is stored)."""
    started = time.perf_counter()
    interval = timeframe_ms(timeframe)
    client = ExchangeClient(exchange, market_type=market_type, retry=retry)
    instrument, sizes_unknown = _instrument(client, exchange, symbol, market_type)
    in_progress_open = clock() // interval * interval
    end = in_progress_open if until_ms is None else min(until_ms, in_progress_open)
    windows = fetch_windows(instrument, timeframe, since_ms, end)
    if windows and sizes_unknown:  # the market list may be back since the instrument was made
        instrument = instrument_get_or_create(exchange=exchange, symbol=symbol,
                                              market_type=market_type,
                                              sizes=client.market_sizes(symbol))
    counter = _Progress(sum((stop - start) // interval for start, stop in windows), progress)
    fetched = _Fetched()
    location = f"{client.endpoint} {client.ccxt_symbol(symbol)} {timeframe}"
    try:
        for start, stop in windows:
            _fetch_window(client, instrument, timeframe, start, stop, page_limit, fetched, counter)
    except MalformedPage as exc:
        _rejected_report(instrument, timeframe, location, fetched, exc, started)
        raise
    if not fetched.rows:
        return DataQualityReport(instrument=instrument, timeframe=timeframe, kind="candles",
                                 source=DataQualityReport.Source.EXCHANGE, location=location,
                                 status=DataQualityReport.Status.OK,
                                 details={"summary": ["no new closed candles"]})
    return quality_report_create(
        findings=_findings(instrument, timeframe, fetched.rows), instrument=instrument,
        timeframe=timeframe, kind="candles", source=DataQualityReport.Source.EXCHANGE,
        location=location, loaded=fetched.loaded(), started=started,
        details={"pages": fetched.pages, "windows": [list(w) for w in windows]},
    )


def _instrument(
    client: ExchangeClient, exchange: str, symbol: str, market_type: str
) -> tuple[Instrument, bool]:
    """(the instrument, whether its sizes are unknown and worth asking for again).

    A new instrument is created with the exchange's tick/lot sizes, or unknown (0)
    sizes when the market list is unavailable; an unlisted symbol raises ValueError
    before anything is stored.
    """
    instrument = instrument_find(exchange=exchange, symbol=symbol, market_type=market_type)
    if instrument is not None:
        return instrument, not instrument.tick_size
    created = instrument_get_or_create(exchange=exchange, symbol=symbol, market_type=market_type,
                                       sizes=client.market_sizes(symbol))
    return created, False


def fetch_windows(
    instrument: Instrument, timeframe: str, since_ms: int | None, end_ms: int
) -> list[tuple[int, int]]:
    """The [start, stop) ranges still to fetch, given what is stored."""
    interval = timeframe_ms(timeframe)
    stored = Candle.objects.filter(instrument=instrument, timeframe=timeframe)
    first = stored.order_by("open_time").values_list("open_time", flat=True).first()
    last = stored.order_by("-open_time").values_list("open_time", flat=True).first()
    if since_ms is not None:
        since_ms = -(-since_ms // interval) * interval  # the first bar opening at or after since
    if first is None or last is None:
        if since_ms is None:
            raise ValueError(f"{instrument} {timeframe}: nothing stored yet, give a start date")
        return [(since_ms, end_ms)] if since_ms < end_ms else []
    windows = []
    if since_ms is not None and since_ms < first:
        windows.append((since_ms, min(first, end_ms)))
    resume = last + interval if since_ms is None else max(since_ms, last + interval)
    if resume < end_ms:
        windows.append((resume, end_ms))
    return [(a, b) for a, b in windows if a < b]


def _fetch_window(
    client: ExchangeClient, instrument: Instrument, timeframe: str, start: int, stop: int,
    page_limit: int, fetched: _Fetched, counter: _Progress,
) -> None:
    interval = timeframe_ms(timeframe)
    cursor = start
    while cursor < stop:
        page = client.ohlcv_page(instrument.symbol, timeframe, since=cursor, limit=page_limit)
        rows = [row for row in page if row[0] < stop]
        if not rows:
            return
        stored = candles_store(instrument=instrument, timeframe=timeframe, rows=rows)
        fetched.rows.extend(rows)
        fetched.inserted += stored.inserted
        fetched.existing += stored.existing
        fetched.pages += 1
        counter.add(len(rows))
        cursor = rows[-1][0] + interval


def _findings(instrument: Instrument, timeframe: str, rows: list[list]) -> QualityFindings:
    table = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    interval = timeframe_ms(timeframe)
    findings = check_candles(table[:, 0].astype(np.int64), *(table[:, i] for i in range(1, 6)),
                             interval_ms=interval)
    if not rows:
        return findings
    # gaps where a window begins or ends without the exchange returning bars there
    edges = {int(table[0, 0]), int(table[-1, 0])}
    neighbours = Candle.objects.filter(instrument=instrument, timeframe=timeframe)
    before = neighbours.filter(open_time__lt=min(edges)).order_by("-open_time")
    after = neighbours.filter(open_time__gt=max(edges)).order_by("open_time")
    bounds = [t for t in (before.values_list("open_time", flat=True).first(),
                          after.values_list("open_time", flat=True).first()) if t is not None]
    times = np.unique(np.concatenate([table[:, 0].astype(np.int64),
                                      np.asarray(bounds, dtype=np.int64)]))
    return dataclasses.replace(findings, gaps=find_gaps(times, interval))


def _rejected_report(
    instrument: Instrument, timeframe: str, location: str, fetched: _Fetched,
    exc: MalformedPage, started: float,
) -> DataQualityReport:
    findings = _findings(instrument, timeframe, fetched.rows)
    return quality_report_create(
        findings=findings, instrument=instrument, timeframe=timeframe, kind="candles",
        source=DataQualityReport.Source.EXCHANGE, location=location, loaded=fetched.loaded(),
        started=started, status=DataQualityReport.Status.REJECTED,
        details={"rejected_page": {"after_pages": fetched.pages, "problems": exc.problems[:200]},
                 "structural": [f"malformed page after {fetched.pages} stored page(s): {p}"
                                for p in exc.problems[:200]]},
    )


@dataclass(frozen=True)
class SyncOutcome:
    instrument_id: int
    timeframe: str
    status: str  # "ok", "temporary_error", "rejected", "error"
    inserted: int = 0
    message: str = ""


def candles_sync(
    *, instrument_ids: list[int] | None = None, timeframe: str | None = None,
    clock: Clock = wall_clock_ms,
) -> list[SyncOutcome]:
    """Fetch new closed candles for every active instrument and timeframe already stored.

    One failing instrument does not stop the others: each outcome says what happened.
    """
    outcomes = []
    for instrument, tf in _sync_targets(instrument_ids, timeframe):
        try:
            report = candles_fetch(exchange=instrument.exchange.code, symbol=instrument.symbol,
                                   timeframe=tf, market_type=instrument.market_type, clock=clock)
            outcomes.append(SyncOutcome(instrument.pk, tf, "ok", report.rows_inserted))
        except TemporaryError as exc:
            log.warning("candle sync %s %s: exchange unavailable: %s", instrument, tf, exc)
            outcomes.append(SyncOutcome(instrument.pk, tf, "temporary_error", message=str(exc)))
        except DataError as exc:
            log.error("candle sync %s %s: rejected: %s", instrument, tf, exc)
            outcomes.append(SyncOutcome(instrument.pk, tf, "rejected", message=str(exc)))
        except (OperationalError, ValueError) as exc:
            log.error("candle sync %s %s failed: %s", instrument, tf, exc)
            outcomes.append(SyncOutcome(instrument.pk, tf, "error", message=str(exc)))
    return outcomes


def _sync_targets(
    instrument_ids: list[int] | None, timeframe: str | None
) -> list[tuple[Instrument, str]]:
    """(instrument, timeframe) pairs with exchange or file data (not derived by resampling)."""
    reports = DataQualityReport.objects.filter(
        kind="candles", instrument__active=True,
        source__in=[DataQualityReport.Source.FILE, DataQualityReport.Source.EXCHANGE],
    ).exclude(status=DataQualityReport.Status.REJECTED)
    if instrument_ids is not None:
        reports = reports.filter(instrument_id__in=instrument_ids)
    if timeframe:
        reports = reports.filter(timeframe=timeframe)
    pairs = sorted(set(reports.values_list("instrument_id", "timeframe")))
    instruments = Instrument.objects.select_related("exchange").in_bulk([i for i, _ in pairs])
    return [(instruments[i], tf) for i, tf in pairs if i in instruments]
