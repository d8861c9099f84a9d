"""Trend indicators: ADX with +DI / -DI (TA-Lib), and the Ichimoku cloud without lookahead.

Guarantees: same-length float64 outputs, NaN during warm-up, the value at bar t
uses bars <= t only.
- `adx`, `plus_di`, `minus_di`: TA-Lib ADX / PLUS_DI / MINUS_DI (Wilder
  smoothing in TA-Lib's order). DI starts at bar n, ADX at bar 2n-1.
- `ichimoku`: tenkan and kijun are midpoints (highest high + lowest low) / 2 of
  the last `tenkan` / `kijun` bars, bar t included. The spans are the cloud AS
  PLOTTED AT bar t: senkou_a[t] = (tenkan + kijun)/2 and senkou_b[t] = the
  `senkou_b`-bar midpoint, both computed at bar t - displacement (default
  displacement = kijun). Nothing is shifted backwards from the future, and
  there is deliberately no chikou span: chikou at t would need close[t + 26].
  First values: tenkan at tenkan-1, kijun at kijun-1, senkou_a at
  kijun-1+displacement, senkou_b at senkou_b-1+displacement.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from trading.engine.indicators.inputs import (
    as_same_length,
    check_period,
    nan_array,
    run_on_valid_tail,
)
from trading.engine.indicators.kernels import directional, rolling


class Ichimoku(NamedTuple):
    """The four Ichimoku lines known at each bar (see the module docstring)."""

    tenkan: np.ndarray
    kijun: np.ndarray
    senkou_a: np.ndarray
    senkou_b: np.ndarray


def adx(high: ArrayLike, low: ArrayLike, close: ArrayLike, n: int = 14) -> np.ndarray:
    """Average directional index in [0, 100]; first value at bar 2n-1."""
    return _directional(high, low, close, n)[2]


def plus_di(high: ArrayLike, low: ArrayLike, close: ArrayLike, n: int = 14) -> np.ndarray:
    """+DI = 100 * smoothed +DM / smoothed true range; first value at bar n."""
    return _directional(high, low, close, n)[0]


def minus_di(high: ArrayLike, low: ArrayLike, close: ArrayLike, n: int = 14) -> np.ndarray:
    """-DI = 100 * smoothed -DM / smoothed true range; first value at bar n."""
    return _directional(high, low, close, n)[1]


def directional_indicators(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, n: int = 14
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(plus_di, minus_di, adx) from one pass, for callers that need all three."""
    return _directional(high, low, close, n)


def _directional(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = check_period(n, "n", minimum=2)
    h, lo, c = as_same_length(("high", high), ("low", low), ("close", close))
    p_di, m_di, average = run_on_valid_tail(
        directional.directional_movement, [h, lo, c], (n,), outputs=3
    )
    return p_di, m_di, average


def ichimoku(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    tenkan: int = 9,
    kijun: int = 26,
    senkou_b: int = 52,
    *,
    displacement: int | None = None,
) -> Ichimoku:
    """Ichimoku lines known at each bar; the spans are the displaced cloud plotted at bar t.

    `close` is only checked for length: without a chikou span no line uses it.
    """
    tenkan = check_period(tenkan, "tenkan")
    kijun = check_period(kijun, "kijun")
    senkou_b = check_period(senkou_b, "senkou_b")
    shift = kijun if displacement is None else check_period(displacement, "displacement", 0)
    h, lo, _ = as_same_length(("high", high), ("low", low), ("close", close))
    tenkan_line = _midpoint(h, lo, tenkan)
    kijun_line = _midpoint(h, lo, kijun)
    leading_a = (tenkan_line + kijun_line) / 2.0
    leading_b = _midpoint(h, lo, senkou_b)
    return Ichimoku(
        tenkan=tenkan_line,
        kijun=kijun_line,
        senkou_a=_delay(leading_a, shift),
        senkou_b=_delay(leading_b, shift),
    )


def _midpoint(high: np.ndarray, low: np.ndarray, n: int) -> np.ndarray:
    (highest,) = run_on_valid_tail(rolling.rolling_max, [high], (n,))
    (lowest,) = run_on_valid_tail(rolling.rolling_min, [low], (n,))
    return (highest + lowest) / 2.0


def _delay(values: np.ndarray, bars: int) -> np.ndarray:
    """values[t - bars] at t: the value computed `bars` bars ago (NaN before)."""
    delayed = nan_array(len(values))
    if bars < len(values):
        delayed[bars:] = values[: len(values) - bars]
    return delayed
