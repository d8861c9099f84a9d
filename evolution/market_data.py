"""Market data for evolution runs: stored candles and funding rates as engine `Bars` and
`Dataset`s (read-only).

Guarantees:
- a run's dataset is named by an engine `DatasetSpec` whose symbols are the
  instrument ids (as strings, in id order), so its key names the instruments,
  timeframe, scored window and warm-up exactly; any worker process rebuilds the
  same `Dataset` from the key (`dataset_load`), and `DATASETS` (the engine's
  per-process cache, whose loader `EvolutionConfig.ready` sets to `dataset_load`)
  loads it once per process;
- every bar carries the funding rate settled at or before its close: a spot
  instrument takes the rates stored on the perpetual with the same exchange and
  symbol (funding is only ever stored on perpetuals);
- bars before the scored window (at most `warmup_bars` of them) only warm
  indicators up; bars after it are never loaded into a scored dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Min

from evolution.engine.datasets import Dataset, DatasetSpec, with_funding
from trading.engine.market import Bars, timeframe_ms
from trading.models import Candle, FundingRate, Instrument
from trading.selectors import candle_arrays
from trading.services.instruments import instrument_find

DAY_MS = 86_400_000


def funding_source(instrument: Instrument) -> Instrument | None:
    """The instrument whose funding rates apply: itself if perpetual, else the perpetual with
    the same exchange and symbol (None when there is none)."""
    if instrument.market_type == Instrument.MarketType.PERP:
        return instrument
    return Instrument.objects.filter(
        exchange_id=instrument.exchange_id, symbol=instrument.symbol,
        market_type=Instrument.MarketType.PERP,
    ).first()


def funding_series(instrument: Instrument, *, until_ms: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(settlement times in ms, rates) that apply to `instrument`, oldest first."""
    source = funding_source(instrument)
    if source is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    rows = FundingRate.objects.filter(instrument=source)
    if until_ms is not None:
        rows = rows.filter(funding_time__lt=until_ms)
    pairs = list(rows.order_by("funding_time").values_list("funding_time", "rate"))
    stamps = np.array([p[0] for p in pairs], dtype=np.int64)
    rates = np.array([p[1] for p in pairs], dtype=np.float64)
    return stamps, rates


def instrument_bars(instrument: Instrument, timeframe: str, *, start_ms: int, end_ms: int,
                    warmup_bars: int = 0, funding: bool = True) -> Bars:
    """Bars of [start_ms - warmup_bars bars, end_ms), with funding aligned to bar closes."""
    first = start_ms - warmup_bars * timeframe_ms(timeframe)
    bars = candle_arrays(instrument, timeframe, start_ms=first, end_ms=end_ms)
    if funding and len(bars):
        stamps, rates = funding_series(instrument, until_ms=end_ms + timeframe_ms(timeframe))
        if len(stamps):
            bars = with_funding(bars, stamps, rates)
    return bars


def instruments_by_ids(ids: Sequence[int]) -> list[Instrument]:
    """The instruments of `ids` in id order (unknown ids dropped)."""
    return list(Instrument.objects.select_related("exchange").filter(pk__in=ids).order_by("pk"))


def dataset_spec(instrument_ids: Sequence[int], timeframe: str, *, start_ms: int, end_ms: int,
                 warmup_bars: int) -> DatasetSpec:
    return DatasetSpec(
        symbols=tuple(str(i) for i in sorted(instrument_ids)), timeframe=timeframe,
        start_ms=int(start_ms), end_ms=int(end_ms), warmup_bars=int(warmup_bars), funding=True,
    )


def spec_instruments(spec: DatasetSpec) -> list[Instrument]:
    ids = [int(s) for s in spec.symbols]
    found = instruments_by_ids(ids)
    if len(found) != len(ids):
        missing = sorted(set(ids) - {i.pk for i in found})
        raise LookupError(f"instruments {missing} of dataset {spec.key} no longer exist")
    return found


def dataset_load(spec: DatasetSpec) -> Dataset:
    """The dataset a spec names, read from the database (the loader of `DATASETS`)."""
    bars = [
        instrument_bars(i, spec.timeframe, start_ms=spec.start_ms, end_ms=spec.end_ms,
                        warmup_bars=spec.warmup_bars, funding=spec.funding)
        for i in spec_instruments(spec)
    ]
    return Dataset.from_bars(bars, key=spec.key, start_ms=spec.start_ms, end_ms=spec.end_ms)


def history_bars(spec: DatasetSpec) -> list[Bars]:
    """Each instrument's bars from the warm-up through `spec.end_ms` (validation reads these)."""
    return [
        instrument_bars(i, spec.timeframe, start_ms=spec.start_ms, end_ms=spec.end_ms,
                        warmup_bars=spec.warmup_bars, funding=spec.funding)
        for i in spec_instruments(spec)
    ]


def candle_counts(instrument_ids: Sequence[int], timeframe: str, *, start_ms: int,
                  end_ms: int) -> dict[int, int]:
    """Bars stored per instrument in [start_ms, end_ms) (0 for none)."""
    rows = (Candle.objects.filter(instrument_id__in=list(instrument_ids), timeframe=timeframe,
                                  open_time__gte=start_ms, open_time__lt=end_ms)
            .values("instrument_id").annotate(n=Count("id")))
    counts = {int(i): 0 for i in instrument_ids}
    counts.update({r["instrument_id"]: r["n"] for r in rows})
    return counts


def instruments_resolve(*, exchange: str, symbols: Sequence[str], market_type: str = "spot"
                        ) -> list[Instrument]:
    """The stored instruments of `symbols` on `exchange`; ValidationError on "symbols" naming
    those that are not stored."""
    found, missing = [], []
    for symbol in symbols:
        instrument = instrument_find(exchange=exchange, symbol=symbol, market_type=market_type)
        if instrument is None:
            missing.append(symbol)
        else:
            found.append(instrument)
    if missing or not found:
        raise ValidationError({"symbols": f"no {market_type} instrument {missing or list(symbols)}"
                                          f" stored on exchange {exchange!r}"})
    return found


def stored_range(instruments: Sequence[Instrument], timeframe: str, *, lookback_days: int
                 ) -> tuple[datetime, datetime]:
    """The last `lookback_days` the instruments all have candles for: [start, end) ending after
    the newest common bar (and starting no earlier than the latest first bar)."""
    spans = list(Candle.objects.filter(instrument__in=instruments, timeframe=timeframe)
                 .values("instrument_id").annotate(first=Min("open_time"), last=Max("open_time")))
    if len(spans) < len(instruments):
        raise ValidationError({"symbols": f"some instruments have no {timeframe} candles"})
    end_ms = min(s["last"] for s in spans) + timeframe_ms(timeframe)
    start_ms = max(end_ms - lookback_days * DAY_MS, max(s["first"] for s in spans))
    return (datetime.fromtimestamp(start_ms / 1000, tz=UTC),
            datetime.fromtimestamp(end_ms / 1000, tz=UTC))
