"""Incremental oscillators: RSI, MACD, stochastic, z-score.

Guarantees: `update` returns what `rsi` / `macd` / `stochastic` / `zscore`
return at that bar (tuples in the batch functions' order), NaN while warming
up, with the batch functions' TA-Lib conventions and NaN masks.
"""

from __future__ import annotations

from trading.engine.indicators.incremental.windows import (
    NAN,
    LeadingNaNGate,
    RollingExtreme,
    RollingMeanStd,
    RunningMean,
    SeededEMA,
)
from trading.engine.indicators.inputs import check_period
from trading.engine.indicators.kernels.recursive import TA_EPSILON
from trading.engine.indicators.moving_averages import ema_factor


class RSIState:
    """Wilder RSI seeded with the plain means of the first n changes."""

    def __init__(self, n: int = 14) -> None:
        self.n = check_period(n, "n", minimum=2)
        self._gate = LeadingNaNGate()
        self._prev = NAN
        self._bars = 0
        self._gain = 0.0
        self._loss = 0.0

    def update(self, close: float) -> float:
        if self._gate.closed(close):
            return NAN
        value = float(close)
        prev, self._prev = self._prev, value
        changes = self._bars  # price changes seen once this bar is counted
        self._bars += 1
        if changes == 0:
            return NAN
        change = value - prev
        n = self.n
        if changes > n:
            self._loss *= n - 1
            self._gain *= n - 1
        if change < 0:
            self._loss -= change
        else:
            self._gain += change
        if changes < n:
            return NAN
        self._loss /= n
        self._gain /= n
        total = self._gain + self._loss
        if -TA_EPSILON < total < TA_EPSILON:
            return 0.0
        return 100.0 * (self._gain / total)


class MACDState:
    """(macd_line, signal_line, histogram) as TA-Lib MACD, NaN until the signal exists."""

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.fast = check_period(fast, "fast")
        self.slow = check_period(slow, "slow")
        self.signal = check_period(signal, "signal")
        if self.fast >= self.slow:
            raise ValueError(f"macd needs fast < slow, got fast={fast}, slow={slow}")
        self._gate = LeadingNaNGate()
        self._fast = SeededEMA(self.fast, ema_factor(self.fast), self.slow - 1)
        self._slow = SeededEMA(self.slow, ema_factor(self.slow), self.slow - 1)
        self._signal = SeededEMA(self.signal, ema_factor(self.signal), self.signal - 1)

    def update(self, close: float) -> tuple[float, float, float]:
        if self._gate.closed(close):
            return NAN, NAN, NAN
        value = float(close)
        fast = self._fast.update(value)
        slow = self._slow.update(value)
        line = fast - slow
        if line != line:
            return NAN, NAN, NAN
        signal = self._signal.update(line)
        if signal != signal:
            return NAN, NAN, NAN
        return line, signal, line - signal


class StochasticState:
    """(k_line, d_line) as TA-Lib STOCH with SMA smoothing."""

    def __init__(self, k: int = 14, smooth_k: int = 3, d: int = 3) -> None:
        self.k = check_period(k, "k")
        self.smooth_k = check_period(smooth_k, "smooth_k")
        self.d = check_period(d, "d")
        self._gate = LeadingNaNGate()
        self._highest = RollingExtreme(self.k, 1.0)
        self._lowest = RollingExtreme(self.k, -1.0)
        self._slow_k = RunningMean(self.smooth_k)
        self._slow_d = RunningMean(self.d)

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        if self._gate.closed(high, low, close):
            return NAN, NAN
        highest = self._highest.update(float(high))
        lowest = self._lowest.update(float(low))
        if highest != highest:
            return NAN, NAN
        diff = (highest - lowest) / 100.0
        fast_k = (float(close) - lowest) / diff if diff != 0.0 else 0.0
        k_line = self._slow_k.update(fast_k)
        if k_line != k_line:
            return NAN, NAN
        d_line = self._slow_d.update(k_line)
        if d_line != d_line:
            return NAN, NAN
        return k_line, d_line


class ZScoreState:
    """Rolling z-score over n values with population std; 0.0 on flat windows."""

    def __init__(self, n: int) -> None:
        self.n = check_period(n, "n", minimum=2)
        self._gate = LeadingNaNGate()
        self._window = RollingMeanStd(self.n, 0)

    def update(self, x: float) -> float:
        if self._gate.closed(x):
            return NAN
        value = float(x)
        mean, std = self._window.update(value)
        if std == 0.0:
            return 0.0
        return (value - mean) / std
