"""Orders: the immutable order record and its state machine, client order ids,
trailing orders, and the self-tuning grid."""

from trading.engine.orders.grid import (
    Grid,
    GridLevel,
    GridUpdate,
    LevelState,
    average_swing,
    self_tuned_spacing,
    swing_points,
)
from trading.engine.orders.ids import ClientOrderIds, client_order_id
from trading.engine.orders.model import (
    Amendment,
    Fill,
    Liquidity,
    Order,
    OrderSide,
    OrderType,
)
from trading.engine.orders.state import (
    TRANSITIONS,
    IllegalTransition,
    OrderError,
    OrderStatus,
    OverfillError,
    Transition,
    can_transition,
)
from trading.engine.orders.trailing import (
    TRAIL_BOUNDS,
    TrailBounds,
    TrailingOrder,
    TrailingState,
    TrailingStatus,
    Trigger,
    volatility_scaled_trail,
)

__all__ = [
    "TRAIL_BOUNDS",
    "TRANSITIONS",
    "Amendment",
    "ClientOrderIds",
    "Fill",
    "Grid",
    "GridLevel",
    "GridUpdate",
    "IllegalTransition",
    "LevelState",
    "Liquidity",
    "Order",
    "OrderError",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "OverfillError",
    "TrailBounds",
    "TrailingOrder",
    "TrailingState",
    "TrailingStatus",
    "Transition",
    "Trigger",
    "average_swing",
    "can_transition",
    "client_order_id",
    "self_tuned_spacing",
    "swing_points",
    "volatility_scaled_trail",
]
