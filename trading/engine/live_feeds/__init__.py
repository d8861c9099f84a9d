"""Live market data feeds over ccxt: REST polling and websocket streaming.

Both implement the `Feed` protocol of `trading.engine.feeds` (closed candles and
ticks in non-decreasing time order) and screen every event through the
`FeedGuard`, so the engine runs unchanged on replayed, polled or streamed data.
Importing this package imports ccxt (about a second): the engine's other
modules do not, so backtests never pay for it.
"""

from trading.engine.live_feeds.polling import CcxtPollingFeed, FeedUnavailable
from trading.engine.live_feeds.screening import FeedScreen, Rejection
from trading.engine.live_feeds.streaming import CcxtStreamingFeed, StreamSequencer

__all__ = [
    "CcxtPollingFeed",
    "CcxtStreamingFeed",
    "FeedScreen",
    "FeedUnavailable",
    "Rejection",
    "StreamSequencer",
]
