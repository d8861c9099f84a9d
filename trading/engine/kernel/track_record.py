"""Running figures of a session's closed trades, for Kelly sizing.

Guarantees: `stats()` is None before the first closed trade, then the win
rate, mean winning return and mean losing return (as a positive fraction) of
every net return added; `as_dict()` / `TrackRecord(state)` round-trip it for
checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping

from trading.engine.decision import TradeStats


class TrackRecord:
    """Running win/loss figures of closed trades, for Kelly sizing."""

    def __init__(self, state: Mapping[str, float] | None = None) -> None:
        state = state or {}
        self.trades = int(state.get("trades", 0))
        self.wins = int(state.get("wins", 0))
        self.win_sum = float(state.get("win_sum", 0.0))
        self.loss_sum = float(state.get("loss_sum", 0.0))
        self._stats: TradeStats | None = None

    def add(self, net_return: float) -> None:
        self.trades += 1
        if net_return > 0:
            self.wins += 1
            self.win_sum += net_return
        else:
            self.loss_sum -= net_return

    def stats(self) -> TradeStats | None:
        if not self.trades:
            return None
        if self._stats is not None and self._stats.trades == self.trades:
            return self._stats
        losses = self.trades - self.wins
        self._stats = TradeStats(
            trades=self.trades,
            win_rate=self.wins / self.trades,
            avg_win=self.win_sum / self.wins if self.wins else 0.0,
            avg_loss=self.loss_sum / losses if losses else 0.0,
        )
        return self._stats

    def as_dict(self) -> dict[str, float]:
        return {"trades": self.trades, "wins": self.wins, "win_sum": self.win_sum,
                "loss_sum": self.loss_sum}
