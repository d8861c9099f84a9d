"""The ccxt adapter for public market data: retries, rate limit, URL override, page checks.

Guarantees:
- ccxt's own rate limiter is on (`enableRateLimit`), so requests are spaced by
  the exchange's `rateLimit`.
- Timeouts, 429/418, 5xx and connection failures (ccxt `NetworkError` and its
  subclasses RequestTimeout, RateLimitExceeded, DDoSProtection,
  ExchangeNotAvailable) are retried with exponential backoff and jitter,
  honouring a Retry-After header, up to `RetryPolicy.attempts` tries; then
  `TemporaryError`. Other exchange errors raise `OperationalError`; an unknown
  symbol raises `ValueError`.
- A page of candles is returned only if the body is JSON and every row is
  [int ms, 5 finite numbers], on the timeframe grid, strictly increasing (checked on the raw
  response, since ccxt sorts what it parses) and not before `since`;
  otherwise `MalformedPage` (a `DataError`) lists what is wrong.
- `ORGANISM_EXCHANGE_URLS` ("http://host:port" for every exchange, or
  "binance=http://...,bybit=http://...") replaces the scheme and host of every
  API URL of the exchange, keeping paths: tests point ccxt at a local server.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ccxt
from django.conf import settings

from organism.errors import DataError, OperationalError, TemporaryError
from trading.services.instruments import MarketSizes

log = logging.getLogger(__name__)

RETRYABLE = (ccxt.NetworkError,)  # RequestTimeout, RateLimitExceeded, DDoSProtection, ...


class MalformedPage(DataError):
    """A page of candles that cannot be stored as given."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    jitter: float = 0.5  # the last `jitter` fraction of each delay is random
    max_retry_after_s: float = 120.0  # a longer Retry-After gives up (the task retries later)

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        return cls(
            attempts=int(getattr(settings, "ORGANISM_FETCH_RETRY_ATTEMPTS", cls.attempts)),
            base_delay_s=float(getattr(settings, "ORGANISM_FETCH_RETRY_BASE_S", cls.base_delay_s)),
            max_delay_s=float(getattr(settings, "ORGANISM_FETCH_RETRY_MAX_S", cls.max_delay_s)),
        )

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `failures`-th failure (1-based)."""
        full = min(self.max_delay_s, self.base_delay_s * 2 ** (failures - 1))
        wait = full * (1 - self.jitter) + random.uniform(0, full * self.jitter)
        return max(wait, retry_after or 0.0)


def exchange_base_url(code: str) -> str | None:
    """The URL override for `code` from ORGANISM_EXCHANGE_URLS, if any."""
    raw = (getattr(settings, "ORGANISM_EXCHANGE_URLS", "") or "").strip()
    if not raw:
        return None
    if "=" not in raw:
        return raw.rstrip("/")
    for part in raw.split(","):
        name, _, url = part.partition("=")
        if name.strip().lower() == code:
            return url.strip().rstrip("/")
    return None


def _rebase(urls: Any, base: str) -> Any:
    if isinstance(urls, str):
        parts = urlsplit(urls)
        return base + parts.path + (f"?{parts.query}" if parts.query else "")
    if isinstance(urls, dict):
        return {key: _rebase(value, base) for key, value in urls.items()}
    return urls


class ExchangeClient:
    """Public endpoints of one ccxt exchange for one market type (spot or perp)."""

    def __init__(
        self,
        code: str,
        *,
        market_type: str = "spot",
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        exchange_class = getattr(ccxt, code, None)
        if code not in ccxt.exchanges or exchange_class is None:
            raise ValueError(f"unknown exchange {code!r} (not a ccxt exchange id)")
        self.code = code
        self.market_type = market_type
        self.retry = retry or RetryPolicy.from_settings()
        self._sleep = sleep
        self.api = exchange_class({
            "enableRateLimit": True,
            "enableLastJsonResponse": True,  # the raw page, to check its order and shape
            "timeout": int(settings.ORGANISM_CCXT_TIMEOUT_MS),
            "options": {"defaultType": "swap" if market_type == "perp" else "spot"},
        })
        fetch_markets = self.api.options.get("fetchMarkets")
        if isinstance(fetch_markets, dict) and "types" in fetch_markets:
            # only the market list we trade: one exchangeInfo call instead of three
            fetch_markets["types"] = ["linear"] if market_type == "perp" else ["spot"]
        base = exchange_base_url(code)
        if base:
            self.api.urls["api"] = _rebase(self.api.urls["api"], base)

    @property
    def endpoint(self) -> str:
        api = self.api.urls.get("api")
        if isinstance(api, dict):
            keys = ("fapiPublic", "public") if self.market_type == "perp" else ("public",)
            found = next((api[k] for k in keys if isinstance(api.get(k), str)), None)
            return str(found or next(iter(api.values()), ""))
        return str(api or "")

    def ccxt_symbol(self, symbol: str) -> str:
        """'BTC/USDT' -> 'BTC/USDT:USDT' for a linear perpetual."""
        if self.market_type == "perp" and ":" not in symbol:
            return f"{symbol}:{symbol.split('/')[1]}"
        return symbol

    def market_sizes(self, symbol: str) -> MarketSizes | None:
        """Tick size, lot size and minimum notional, or None when markets are unavailable."""
        try:
            markets = self._call(self.api.load_markets)
        except (TemporaryError, OperationalError) as exc:
            log.warning("%s: markets unavailable (%s); instrument sizes left unknown",
                        self.code, exc)
            return None
        market = markets.get(self.ccxt_symbol(symbol))
        if market is None:
            raise ValueError(f"{symbol} ({self.market_type}) is not a market on {self.code}")
        return MarketSizes(
            tick_size=_decimal(market.get("precision", {}).get("price")),
            lot_size=_decimal(market.get("precision", {}).get("amount")),
            min_notional=_decimal(((market.get("limits") or {}).get("cost") or {}).get("min")),
        )

    def ohlcv_page(self, symbol: str, timeframe: str, *, since: int, limit: int) -> list[list]:
        """One checked page of candles opening at or after `since`."""
        rows = self._call(self.api.fetch_ohlcv, self.ccxt_symbol(symbol), timeframe,
                          since=since, limit=limit)
        if self.api.last_json_response is None:  # ccxt turns a non-JSON body into []
            body = str(self.api.last_http_response or "")[:200]
            raise MalformedPage("malformed page of candles", [f"response is not JSON: {body!r}"])
        return checked_page(rows, self.api.last_json_response, since=since,
                            interval_ms=self.api.parse_timeframe(timeframe) * 1000)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        for failure in range(1, self.retry.attempts + 1):
            try:
                return method(*args, **kwargs)
            except ccxt.BadSymbol as exc:
                raise ValueError(f"{self.code}: {exc}") from exc
            except RETRYABLE as exc:
                if failure == self.retry.attempts:
                    raise TemporaryError(f"{self.code}: gave up after {failure} attempts: "
                                         f"{type(exc).__name__}: {exc}") from exc
                retry_after = self._retry_after()
                if retry_after is not None and retry_after > self.retry.max_retry_after_s:
                    raise TemporaryError(f"{self.code}: asked to wait {retry_after:.0f}s") from exc
                wait = self.retry.delay(failure, retry_after)
                log.info("%s: %s (attempt %d/%d), retrying in %.2fs", self.code,
                         type(exc).__name__, failure, self.retry.attempts, wait)
                self._sleep(wait)
            except ccxt.BadResponse as exc:
                raise MalformedPage(f"{self.code}: malformed response", [str(exc)[:300]]) from exc
            except ccxt.BaseError as exc:
                raise OperationalError(f"{self.code}: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    def _retry_after(self) -> float | None:
        headers = self.api.last_response_headers or {}
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return Decimal(0)
    return number if number.is_finite() and number > 0 else Decimal(0)


def checked_page(rows: Any, raw: Any, *, since: int, interval_ms: int) -> list[list]:
    """`rows` (ccxt-parsed) if they form a valid page, else `MalformedPage`."""
    problems: list[str] = []
    if not isinstance(rows, list):
        raise MalformedPage("malformed page of candles",
                            [f"expected a list of candles, got {type(rows).__name__}"])
    if isinstance(raw, list) and len(raw) != len(rows):
        problems.append(f"{len(raw)} raw rows but {len(rows)} parsed")
    problems += _raw_problems(raw)
    if not problems:
        for number, row in enumerate(rows, start=1):
            problems += _row_problems(number, row, since, interval_ms)
    if problems:
        raise MalformedPage("malformed page of candles", problems)
    return [[int(r[0]), *(float(v) for v in r[1:6])] for r in rows]


def _row_problems(number: int, row: Any, since: int, interval_ms: int) -> list[str]:
    if not isinstance(row, list | tuple) or len(row) < 6:
        return [f"row {number}: expected [time, open, high, low, close, volume], got {row!r}"]
    bad = [i for i, v in enumerate(row[:6]) if not _finite_number(v)]
    if bad:
        return [f"row {number}: non-numeric or missing value(s) {[row[i] for i in bad]!r}"]
    ts = row[0]
    if ts != int(ts) or int(ts) % interval_ms:
        return [f"row {number}: time {ts} is not on the {interval_ms} ms grid"]
    if ts < since:
        return [f"row {number}: time {int(ts)} is before the requested start {since}"]
    return []


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _parses_as_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _raw_problems(raw: Any) -> list[str]:
    """Shape and order of the response as sent (ccxt pads short rows and re-sorts)."""
    if not isinstance(raw, list) or not all(isinstance(r, list | tuple) for r in raw):
        return []
    short = [f"row {i + 1}: {len(r)} values, expected at least 6 (time, OHLC, volume)"
             for i, r in enumerate(raw) if len(r) < 6]
    if short:
        return short
    fields = ("time", "open", "high", "low", "close", "volume")
    unparsable = [
        f"row {i + 1}: {name} {value!r} is not a number"
        for i, r in enumerate(raw)
        for name, value in zip(fields, r[:6], strict=True)
        if not _parses_as_number(value)
    ]
    if unparsable:
        return unparsable
    times = [int(float(r[0])) for r in raw]
    return [
        f"row {i + 2}: time {times[i + 1]} is not after the previous row's {times[i]} "
        "(out of order)"
        for i in range(len(times) - 1)
        if times[i + 1] <= times[i]
    ]
