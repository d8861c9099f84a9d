"""The context an entry is decided in, kept with the trade for its closed-trade record.

Guarantees: `entry_context` is JSON-ready (non-finite numbers become None) and
holds the market state of the decision candle, every agent's indicators and
signal, the excluded agents, the consensus, the regime of the window, the
decision with its reasoning, sizing and exit plan. `rebuilt_signals` turns
the stored signals back into `AgentSignal`s to score the agents' calls once
the trade's outcome is known.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from trading.engine.agents.base import AgentSignal
from trading.engine.decision import Decision
from trading.engine.feeds import Candle
from trading.engine.kernel.state import SymbolState
from trading.engine.orchestrator import Vote
from trading.engine.regime import MIN_BARS, detect_regime


def json_ready(value: Any) -> Any:
    """`value` with tuples as lists, mappings as dicts and NaN/inf floats as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def entry_context(
    sym: SymbolState, decision: Decision, vote: Vote, candle: Candle
) -> dict[str, Any]:
    bars = sym.window.bars()
    regime = detect_regime(bars).as_dict() if len(bars) >= MIN_BARS else None
    context = {
        "symbol": sym.symbol,
        "decided_ms": candle.ts_ms,
        "market": {
            "open": candle.open,
            "high": candle.high,
            "low": candle.low,
            "close": candle.close,
            "volume": candle.volume,
            "daily_volatility": sym.stats.daily_volatility,
            "avg_bar_volume": sym.stats.avg_bar_volume,
            "bars_seen": len(bars),
        },
        "indicators": {s.agent: dict(s.details) for s in vote.signals},
        "signals": [s.as_dict() for s in vote.signals],
        "excluded": [e.as_dict() for e in vote.excluded],
        "consensus": vote.consensus.as_dict(),
        "regime": regime,
        "confidence": decision.confidence,
        "reasoning": decision.reasoning,
        "decision": decision.as_dict(),
    }
    ready: dict[str, Any] = json_ready(context)
    return ready


def rebuilt_signals(context: Mapping[str, Any]) -> tuple[AgentSignal, ...]:
    return tuple(
        AgentSignal(
            agent=s["agent"],
            action=s["action"],
            confidence=s["confidence"],
            trail_distance=s["trail_distance"],
            reasoning=s["reasoning"],
        )
        for s in context.get("signals", ())
    )
