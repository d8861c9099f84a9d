"""Trading app models, one module per concept; import them from `trading.models`.

- `market_data`: exchanges, instruments, candles, funding rates, data-quality reports
- `accounts`: exchange accounts with encrypted API credentials
- `parameters`: versioned parameter sets that sessions run on
- `sessions`: trading sessions (paper or live), their checkpoint and lease
- `journal`: orders, fills, positions, decisions, closed trades, alerts, equity marks
"""

from trading.models.accounts import ExchangeAccount
from trading.models.journal import (
    DecisionRecord,
    EquitySnapshot,
    FailedOrderRecord,
    FillRecord,
    OrderRecord,
    PositionRecord,
    SessionAlert,
    TradeRecord,
    TrailingRecord,
)
from trading.models.market_data import (
    Candle,
    DataQualityReport,
    Exchange,
    FundingRate,
    Instrument,
    ms_to_datetime,
)
from trading.models.parameters import ParameterSet
from trading.models.sessions import TradingSession

__all__ = [
    "Candle",
    "DataQualityReport",
    "DecisionRecord",
    "EquitySnapshot",
    "Exchange",
    "ExchangeAccount",
    "FailedOrderRecord",
    "FillRecord",
    "FundingRate",
    "Instrument",
    "OrderRecord",
    "ParameterSet",
    "PositionRecord",
    "SessionAlert",
    "TradeRecord",
    "TradingSession",
    "TrailingRecord",
    "ms_to_datetime",
]
