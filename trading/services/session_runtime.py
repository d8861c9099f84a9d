"""A session's kernel rebuilt from the database, with its executor and its source of prices.

Guarantees:
- `runtime_restore(session)` returns the kernel exactly as the session's last
  committed checkpoint left it: same config (from the stored resolved config,
  weights and overrides), the executor's balances and working orders, agents
  warmed up on the stored bars up to the last processed candle. A session
  without a checkpoint starts fresh, warmed up on the bars before its start.
- The executor is the only difference between paper and live: a
  `PaperExecutor` rebuilt from the checkpoint, or a `CcxtExecutor` on the
  session's exchange account, reconciled with the exchange on every restore.
- Sources: `ReplaySource` hands out stored candles after the last processed
  one (the demo and replays); `MarketSource` polls the exchange through ccxt
  (closed candles, plus the last price between candles while positions or
  orders need watching) and stores the candles it gets. A replay is
  deterministic: agents' time budgets read a frozen timer.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from trading.engine.clock import SimulatedClock, SystemClock
from trading.engine.events import EventBus
from trading.engine.execution import PaperExecutor
from trading.engine.execution.protocol import Executor
from trading.engine.feeds import Candle, FeedEvent, Tick
from trading.engine.kernel import (
    KernelConfig,
    TradingKernel,
    checkpoint_balances,
    checkpoint_orders,
)
from trading.engine.market import Bars, timeframe_ms
from trading.models import Instrument, TradingSession
from trading.selectors import candle_arrays
from trading.services.session_journal import JournalBuffer, StepSummary
from trading.session_config import kernel_config, paper_costs

Timer = Callable[[], float]


def session_key(session: TradingSession) -> str:
    """The namespace of the session's client order ids (unique across databases too)."""
    return f"ts{session.pk}x{int(session.created_at.timestamp())}"


def frozen_timer() -> float:
    return 0.0


@dataclass
class SessionRuntime:
    session: TradingSession
    config: KernelConfig
    clock: SimulatedClock
    executor: Executor
    kernel: TradingKernel
    journal: JournalBuffer
    instruments: dict[str, Instrument]
    restored_seq: int
    journal_summary: StepSummary = field(default_factory=StepSummary)

    def process(self, event: FeedEvent) -> None:
        if event.ts_ms > self.clock.now_ms():
            self.clock.advance_to(event.ts_ms)
        self.kernel.process(event)

    def last_candles(self) -> dict[str, int | None]:
        return {s: state.last_candle_ms for s, state in self.kernel.symbols.items()}

    @property
    def needs_watching(self) -> bool:
        """Positions, working orders or waiting orders: prices between candles matter."""
        kernel = self.kernel
        waiting = any(s.pending or s.trailing or s.entry for s in kernel.symbols.values())
        return bool(kernel.portfolio.open_positions or kernel.desk.tracked or waiting)

    def prices(self) -> dict[str, float]:
        return {s: st.mark for s, st in self.kernel.symbols.items() if st.mark == st.mark}


def runtime_config(session: TradingSession) -> KernelConfig:
    return kernel_config(
        session_key=session_key(session), config=session.config,
        weights=session.agent_weights or {}, enabled=session.agents_enabled or [],
        overrides=session.overrides or {},
    )


def runtime_restore(session: TradingSession, *, timer: Timer | None = None) -> SessionRuntime:
    """The session's kernel at its last checkpoint (or fresh at its start)."""
    config = runtime_config(session)
    instruments = {i.symbol: i for i in session.instruments.select_related("exchange")}
    checkpoint = session.checkpoint
    start_ms = _start_clock(session, config, instruments)
    clock = SimulatedClock(checkpoint["clock_ms"] if checkpoint else start_ms)
    executor = _executor(session, config, clock, checkpoint)
    journal = JournalBuffer(session_id=session.pk,
                            durable_intents=session.mode == TradingSession.Mode.LIVE)
    timer = timer or (frozen_timer if session.source == TradingSession.Source.REPLAY
                      else time.perf_counter)
    common: dict[str, Any] = {"clock": clock, "executor": executor, "bus": EventBus(),
                              "journal": journal, "timer": timer}
    if checkpoint:
        ends = {s: checkpoint["symbols"][s]["last_candle_ms"] for s in config.symbols}
        history = _history(instruments, config, ends)
        kernel = TradingKernel.restore(config, checkpoint, history=history, **common)
    else:
        ends = {s: _first_candle_ms(session, instruments[s], config) for s in config.symbols}
        history = _history(instruments, config, {s: e - config.bar_ms for s, e in ends.items()})
        kernel = TradingKernel(config, history=history, **common)
    journal.kernel = kernel
    return SessionRuntime(session, config, clock, executor, kernel, journal, instruments,
                          session.checkpoint_seq)


# -- kept kernels ------------------------------------------------------------------------------
# A worker keeps the kernel of each session it stepped, tagged with the checkpoint it
# committed and the settings it was built from. The next step on this worker reuses it
# when the database still holds exactly that checkpoint and those settings (nobody else
# committed, nothing was reconfigured); otherwise the kernel is restored from the database.
# A step that fails never puts its kernel back, so a kernel ahead of the database is never
# reused. Reuse saves the agents' warm-up and the executor's reconciliation on every step.

_kept: dict[int, tuple[tuple[Any, ...], SessionRuntime]] = {}
_kept_lock = threading.Lock()
MAX_KEPT_RUNTIMES = 256


def _settings_tag(session: TradingSession) -> tuple[Any, ...]:
    settings_json = json.dumps([session.config, session.overrides, session.agent_weights,
                                session.agents_enabled, session.mode, session.source,
                                session.exchange_account_id], sort_keys=True, default=str)
    return (session.checkpoint_seq, hashlib.blake2b(settings_json.encode()).hexdigest())


def runtime_reuse(session: TradingSession) -> SessionRuntime | None:
    """The kernel this worker committed last for `session`, if still current (taken out)."""
    with _kept_lock:
        kept = _kept.pop(session.pk, None)
    if kept is None or kept[0] != _settings_tag(session) or session.checkpoint is None:
        return None
    runtime = kept[1]
    journal = JournalBuffer(session_id=session.pk,
                            durable_intents=session.mode == TradingSession.Mode.LIVE)
    journal.kernel = runtime.kernel
    runtime.kernel.journal = journal
    runtime.journal, runtime.session = journal, session
    runtime.restored_seq = session.checkpoint_seq
    runtime.journal_summary = StepSummary()
    return runtime


def runtime_keep(runtime: SessionRuntime, committed: TradingSession) -> None:
    """Keep the kernel of a step that committed `committed` (its new checkpoint)."""
    with _kept_lock:
        _kept.pop(committed.pk, None)
        while len(_kept) >= MAX_KEPT_RUNTIMES:
            _kept.pop(next(iter(_kept)))
        _kept[committed.pk] = (_settings_tag(committed), runtime)


def _start_clock(session: TradingSession, config: KernelConfig,
                 instruments: Mapping[str, Instrument]) -> int:
    first = min(_first_candle_ms(session, instruments[s], config) for s in config.symbols)
    return max(0, first)


def _first_candle_ms(session: TradingSession, instrument: Instrument, config: KernelConfig) -> int:
    """Open time of the first candle the session trades (history ends one bar before)."""
    if session.source == TradingSession.Source.REPLAY and session.replay_start_ms is not None:
        return session.replay_start_ms
    last = (instrument.candles.filter(timeframe=config.timeframe)
            .order_by("-open_time").values_list("open_time", flat=True).first())
    return (last or 0) + config.bar_ms


def _history(instruments: Mapping[str, Instrument], config: KernelConfig,
             ends: Mapping[str, int | None]) -> dict[str, Bars] | None:
    """Up to `window_bars` stored bars per symbol ending at (and including) `ends[symbol]`."""
    history: dict[str, Bars] = {}
    for symbol, end in ends.items():
        if end is None:
            continue
        start = end - (config.window_bars - 1) * config.bar_ms
        bars = candle_arrays(instruments[symbol], config.timeframe, start_ms=start, end_ms=end + 1)
        if len(bars):
            history[symbol] = bars
    return history or None


def _executor(session: TradingSession, config: KernelConfig, clock: SimulatedClock,
              checkpoint: Mapping[str, Any] | None) -> Executor:
    if session.mode == TradingSession.Mode.LIVE:
        from trading.services.live_execution import live_executor

        return live_executor(session=session, config=config, clock=clock, checkpoint=checkpoint)
    balances = checkpoint_balances(dict(checkpoint)) if checkpoint else {
        config.quote: config.capital_decimal}
    executor = PaperExecutor(instruments=config.instruments, balances=balances, clock=clock,
                             costs=paper_costs(session.config))
    if checkpoint:
        executor.resume(checkpoint_orders(dict(checkpoint)))
    return executor


# -- sources ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceBatch:
    events: list[FeedEvent]
    finished: bool = False  # a replay reached the end of the stored candles


class ReplaySource:
    """Stored candles after the last processed one, `limit` candle times per call."""

    def __init__(self, session: TradingSession, instruments: Mapping[str, Instrument],
                 timeframe: str) -> None:
        self.session = session
        self.instruments = instruments
        self.timeframe = timeframe

    def next_batch(self, last: Mapping[str, int | None], limit: int) -> SourceBatch:
        candles: list[Candle] = []
        for symbol, instrument in self.instruments.items():
            rows = instrument.candles.filter(timeframe=self.timeframe)
            after = last.get(symbol)
            if after is not None:
                rows = rows.filter(open_time__gt=after)
            elif self.session.replay_start_ms is not None:
                rows = rows.filter(open_time__gte=self.session.replay_start_ms)
            values = rows.order_by("open_time").values_list(
                "open_time", "open", "high", "low", "close", "volume")[:limit]
            candles += [Candle(symbol, self.timeframe, *row) for row in values]
        if not candles:
            return SourceBatch([], finished=True)
        times = sorted({c.ts_ms for c in candles})[:limit]
        order = {s: i for i, s in enumerate(self.instruments)}
        chosen = [c for c in candles if c.ts_ms <= times[-1]]
        chosen.sort(key=lambda c: (c.ts_ms, order[c.symbol]))
        return SourceBatch(list(chosen))


class MarketSource:
    """The exchange, polled through ccxt: closed candles since the last one, then a price."""

    def __init__(self, session: TradingSession, instruments: Mapping[str, Instrument],
                 timeframe: str, exchange: Any) -> None:
        self.session = session
        self.instruments = instruments
        self.timeframe = timeframe
        self.exchange = exchange

    def next_batch(self, last: Mapping[str, int | None], *, ticks: bool) -> SourceBatch:
        """Every candle closed since `last` (per symbol), then the current prices if `ticks`."""
        span = timeframe_ms(self.timeframe)
        events: list[FeedEvent] = []
        for symbol, instrument in self.instruments.items():
            after = last.get(symbol)
            polled = self._poll(symbol, None if after is None else after + span, ticks)
            self._store(instrument, [e for e in polled if isinstance(e, Candle)])
            events += polled
        events.sort(key=lambda e: (e.ts_ms, isinstance(e, Candle)))
        floor = max((v for v in last.values() if v is not None), default=None)
        if floor is not None:  # a tick older than the last candle adds nothing
            events = [e for e in events if not isinstance(e, Tick) or e.ts_ms >= floor + span]
        return SourceBatch(events)

    def catch_up(self) -> int:
        """Store the candles closed since the last stored one, without trading on them (a
        session starting on the market warms up on the latest history)."""
        span = timeframe_ms(self.timeframe)
        stored = 0
        for symbol, instrument in self.instruments.items():
            last = (instrument.candles.filter(timeframe=self.timeframe).order_by("-open_time")
                    .values_list("open_time", flat=True).first())
            candles = [e for e in self._poll(symbol, None if last is None else last + span, False)
                       if isinstance(e, Candle)]
            self._store(instrument, candles)
            stored += len(candles)
        return stored

    def _poll(self, symbol: str, since_ms: int | None, ticks: bool) -> list[FeedEvent]:
        from trading.engine.live_feeds import CcxtPollingFeed

        feed = CcxtPollingFeed(self.exchange, symbol=symbol, timeframe=self.timeframe,
                               clock=SystemClock(), since_ms=since_ms, ticks=ticks)
        return feed.poll()

    def _store(self, instrument: Instrument, candles: list[Candle]) -> None:
        if not candles:
            return
        from trading.services.candles import candles_store

        rows = [[c.open_ms, c.open, c.high, c.low, c.close, c.volume] for c in candles]
        candles_store(instrument=instrument, timeframe=self.timeframe, rows=rows)


_exchanges: dict[tuple[Any, ...], Any] = {}
_exchanges_lock = threading.Lock()
MAX_CACHED_EXCHANGES = 64


def market_exchange(session: TradingSession, instrument: Instrument) -> Any:
    """The session's ccxt exchange: polled for prices and, live, sent orders.

    One instance per session and process, so markets load once rather than every step
    (Binance's exchangeInfo is an expensive call); only the worker holding the session's
    lease uses it. Live sessions get it logged in with the account's keys (a key change
    makes a new one). ORGANISM_CCXT_RATE_LIMIT_MS overrides ccxt's request spacing (a
    test exchange on localhost needs none).
    """
    account = session.exchange_account if session.mode == TradingSession.Mode.LIVE else None
    key = (session.pk, instrument.exchange.code, instrument.market_type,
           account.key_fingerprint if account else "", settings.ORGANISM_EXCHANGE_URLS)
    with _exchanges_lock:
        found = _exchanges.get(key)
    if found is not None:
        return found
    if session.mode == TradingSession.Mode.LIVE:
        from trading.services.live_execution import authenticated_exchange

        exchange = authenticated_exchange(account)
    else:
        from trading.services.exchange_client import ExchangeClient

        exchange = ExchangeClient(instrument.exchange.code, market_type=instrument.market_type).api
    spacing = getattr(settings, "ORGANISM_CCXT_RATE_LIMIT_MS", None)
    if spacing is not None:
        exchange.rateLimit = int(spacing)
    with _exchanges_lock:
        if len(_exchanges) >= MAX_CACHED_EXCHANGES:
            _exchanges.pop(next(iter(_exchanges)))
        _exchanges[key] = exchange
    return exchange
