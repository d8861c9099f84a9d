"""Risk: limits checked before every order, circuit breakers, and the emergency stop."""

from trading.engine.risk.breaker import BreakerAction, CircuitBreaker, SessionState, Trip
from trading.engine.risk.emergency import FLATTEN_TAG, EmergencyStopReport, emergency_stop
from trading.engine.risk.guard import RiskGuard, RiskState
from trading.engine.risk.limits import (
    MarketSnapshot,
    OrderIntent,
    RiskCheck,
    RiskLimits,
    RiskVerdict,
)

__all__ = [
    "FLATTEN_TAG",
    "BreakerAction",
    "CircuitBreaker",
    "EmergencyStopReport",
    "MarketSnapshot",
    "OrderIntent",
    "RiskCheck",
    "RiskGuard",
    "RiskLimits",
    "RiskState",
    "RiskVerdict",
    "SessionState",
    "Trip",
    "emergency_stop",
]
