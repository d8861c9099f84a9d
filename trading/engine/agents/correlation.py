"""Correlation agent: mean reversion of the primary symbol against correlated peers.

Guarantees: each peer is aligned with the primary on common bar timestamps
over the last `lookback` bars (misaligned or short peers are ignored). Peers
whose return correlation is under `min_correlation` are ignored. The relative
performance log(primary) - log(peer) is z-scored over the window; the
correlation-weighted z under -`z_entry` votes TRAIL_BUY (the laggard should
catch up), over +`z_entry` TRAIL_SELL. Without peers, or in line with them,
the agent abstains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trading.engine.agents.base import AgentAction, AgentSignal, ParamAgent
from trading.engine.agents.common_indicators import atr_trail
from trading.engine.agents.snapshot import MarketSnapshot
from trading.engine.market import Bars
from trading.engine.strategy import Param, ParamSpace


def relative_zscore(primary: Bars, peer: Bars, lookback: int) -> tuple[float, float, int]:
    """(z of log(primary/peer) at the last common bar, return correlation, bars used)."""
    ts_a, ts_b = primary.timestamps[-lookback:], peer.timestamps[-lookback:]
    common, ia, ib = np.intersect1d(ts_a, ts_b, assume_unique=True, return_indices=True)
    if len(common) < 20 or common[-1] != ts_a[-1]:
        return math.nan, math.nan, len(common)
    a = np.log(primary.close[-lookback:][ia])
    b = np.log(peer.close[-lookback:][ib])
    ra, rb = np.diff(a), np.diff(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    scale = math.sqrt(float(ra @ ra) * float(rb @ rb))
    corr = float(ra @ rb) / scale if scale > 0 else math.nan
    spread = a - b
    std = float(np.std(spread))
    z = float((spread[-1] - np.mean(spread)) / std) if std > 0 else 0.0
    return z, corr, len(common)


@dataclass(frozen=True)
class CorrelationAgent(ParamAgent):
    name = "correlation"
    description = "cross-asset mean reversion against correlated peers"
    param_space = ParamSpace(
        (
            Param("lookback", "int", 72, 24, 500),
            Param("min_correlation", "float", 0.6, 0.0, 0.99),
            Param("z_entry", "float", 2.0, 0.5, 5.0),
            Param("trail_atr_multiple", "float", 2.0, 0.5, 6.0),
        )
    )
    lookback: int = 72
    min_correlation: float = 0.6
    z_entry: float = 2.0
    trail_atr_multiple: float = 2.0

    def analyze(self, market: MarketSnapshot) -> AgentSignal:
        if not market.peers:
            return self.hold("no peer symbols to compare with")
        if len(market.bars) < 20:
            return self.hold(f"only {len(market.bars)} bars, need 20")
        details: dict[str, float] = {}
        weighted, total, used = 0.0, 0.0, 0
        for symbol, peer in sorted(market.peers.items()):
            z, corr, _ = relative_zscore(market.bars, peer, self.lookback)
            if not (math.isfinite(z) and math.isfinite(corr)):
                continue
            details[f"z_{symbol}"], details[f"corr_{symbol}"] = z, corr
            if corr >= self.min_correlation:
                weighted += corr * z
                total += corr
                used += 1
        if total == 0:
            return self.hold("no peer correlated enough over the window", **details)
        z = weighted / total
        mean_corr = total / used
        details["z"], details["correlation"] = z, mean_corr
        if abs(z) < self.z_entry:
            return self.hold(f"in line with peers (z {z:+.2f})", **details)
        fit = (mean_corr - self.min_correlation) / (1.0 - self.min_correlation)
        conf = 0.3 + 0.35 * min(1.0, (abs(z) - self.z_entry) / self.z_entry) + 0.3 * fit
        trail = atr_trail(market, self.trail_atr_multiple)
        if z < 0:
            why = f"lagging correlated peers (z {z:+.2f}, correlation {mean_corr:.2f})"
            return self.signal(AgentAction.TRAIL_BUY, conf, trail, why, **details)
        why = f"running ahead of correlated peers (z {z:+.2f}, correlation {mean_corr:.2f})"
        return self.signal(AgentAction.TRAIL_SELL, conf, trail, why, **details)
