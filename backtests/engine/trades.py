"""The trades table of a backtest, built from the simulator's order records.

Guarantees: one row per round trip (vectorbt's exit trades), ordered by entry
time then column. Bar indices are positions in the `Bars` the backtest ran on
(not in the traded window); times are bar OPEN times in ms (a fill happens at
that bar's open). P&L is net of both fees; `returns` is P&L over the entry
value; `slippage` is the cash lost to slippage on both fills (the fill price
against the open or stop level it was derived from). A trade still open at the
end is marked at the last close, with no exit fee or slippage.
Exit reasons: signal, stop (stop-loss, trailing or take-profit), end (the
forced close at the last bar's open), open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtests.engine.execution import ExecutionPlan
from backtests.engine.serialization import json_safe

EXIT_REASONS = ("signal", "stop", "end", "open")
SIDES = ("long", "short")


@dataclass(frozen=True, eq=False)
class TradesTable:
    """Columns of equal length, one row per trade."""

    group: np.ndarray  # parameter set / instrument index
    direction: np.ndarray  # 0 long, 1 short
    size: np.ndarray
    entry_index: np.ndarray
    exit_index: np.ndarray
    entry_time: np.ndarray
    exit_time: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    entry_fees: np.ndarray
    exit_fees: np.ndarray
    pnl: np.ndarray
    returns: np.ndarray
    slippage: np.ndarray
    is_open: np.ndarray
    exit_reason: np.ndarray  # index into EXIT_REASONS
    symbols: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.pnl)

    @property
    def fees(self) -> np.ndarray:
        return self.entry_fees + self.exit_fees

    @property
    def bars_held(self) -> np.ndarray:
        return self.exit_index - self.entry_index

    @property
    def entry_value(self) -> np.ndarray:
        return self.size * self.entry_price

    @property
    def exit_value(self) -> np.ndarray:
        return np.where(self.is_open, 0.0, self.size * self.exit_price)

    def select(self, mask: np.ndarray) -> TradesTable:
        """The rows where `mask` is True."""
        values = {name: getattr(self, name)[mask] for name in _ARRAY_FIELDS}
        return TradesTable(**values, symbols=self.symbols)

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-safe rows (times in ms)."""
        columns = self._columns(datetimes=False)
        names = list(columns)
        values = [np.asarray(columns[name]).tolist() for name in names]
        return [json_safe(dict(zip(names, row, strict=True))) for row in zip(*values, strict=True)]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self._columns(datetimes=True))

    def _columns(self, *, datetimes: bool) -> dict[str, Any]:
        names = np.array(self.symbols or ("",), dtype=object)
        symbol = names[np.minimum(self.group, len(names) - 1)]
        entry_time: Any = self.entry_time
        exit_time: Any = self.exit_time
        if datetimes:
            entry_time = pd.to_datetime(self.entry_time, unit="ms", utc=True)
            exit_time = pd.to_datetime(self.exit_time, unit="ms", utc=True)
        return {
            "symbol": symbol,
            "group": self.group,
            "side": np.array(SIDES, dtype=object)[self.direction],
            "size": self.size,
            "entry_index": self.entry_index,
            "exit_index": self.exit_index,
            "entry_time": entry_time,
            "exit_time": exit_time,
            "entry_price": self.entry_price,
            "exit_price": self.exit_price,
            "entry_fees": self.entry_fees,
            "exit_fees": self.exit_fees,
            "fees": self.fees,
            "slippage": self.slippage,
            "pnl": self.pnl,
            "return": self.returns,
            "bars_held": self.bars_held,
            "status": np.where(self.is_open, "open", "closed").astype(object),
            "exit_reason": np.array(EXIT_REASONS, dtype=object)[self.exit_reason],
        }


_ARRAY_FIELDS = (
    "group", "direction", "size", "entry_index", "exit_index", "entry_time", "exit_time",
    "entry_price", "exit_price", "entry_fees", "exit_fees", "pnl", "returns", "slippage",
    "is_open", "exit_reason",
)


def _slippage_paid(size: np.ndarray, fill: np.ndarray, buying: np.ndarray, rate: float,
                   ) -> np.ndarray:
    """Cash lost to slippage on fills at `fill` (reference = fill / (1 +- rate))."""
    factor = np.where(buying, rate / (1.0 + rate), rate / (1.0 - rate))
    return size * fill * factor


def _exit_reasons(trades: np.ndarray, plan: ExecutionPlan, open_: np.ndarray,
                  slippage: float) -> np.ndarray:
    row, col = trades["exit_idx"], trades["col"]
    is_open = trades["status"] == 0
    last = plan.n_bars - 1
    short = trades["direction"] == 1
    signal_fill = open_[row, col if open_.shape[1] > 1 else 0] * np.where(
        short, 1.0 + slippage, 1.0 - slippage)
    at_signal_price = np.isclose(trades["exit_price"], signal_fill, rtol=1e-12, atol=0.0)
    by_signal = plan.exits[row, col] & at_signal_price
    reason = np.where(by_signal, 0, 1)
    reason = np.where(plan.forced_exit & (row == last) & ~is_open, 2, reason)
    return np.where(is_open, 3, reason)


def trades_table(
    records: np.ndarray,
    plan: ExecutionPlan,
    open_: np.ndarray,
    close: np.ndarray,
    timestamps: np.ndarray,
    *,
    bar_offset: int,
    slippage: float,
    symbols: tuple[str, ...] = (),
) -> TradesTable:
    """Trades of a simulation over `timestamps` (the traded bars, starting at `bar_offset`)."""
    from vectorbt.portfolio.nb import get_exit_trades_nb
    from vectorbt.records.nb import col_map_nb

    cols = plan.n_columns
    close_cols = np.ascontiguousarray(
        close if close.shape[1] == cols else np.repeat(close, cols, axis=1), dtype=np.float64
    )
    raw = get_exit_trades_nb(records, close_cols, col_map_nb(records["col"], cols))
    raw = raw[np.lexsort((raw["col"], raw["entry_idx"]))]
    is_open = raw["status"] == 0
    short = raw["direction"] == 1
    entry_slip = _slippage_paid(raw["size"], raw["entry_price"], ~short, slippage)
    exit_slip = np.where(is_open, 0.0,
                         _slippage_paid(raw["size"], raw["exit_price"], short, slippage))
    return TradesTable(
        group=raw["col"] // plan.legs,
        direction=raw["direction"].astype(np.int64),
        size=raw["size"],
        entry_index=raw["entry_idx"] + bar_offset,
        exit_index=raw["exit_idx"] + bar_offset,
        entry_time=timestamps[raw["entry_idx"]],
        exit_time=timestamps[raw["exit_idx"]],
        entry_price=raw["entry_price"],
        exit_price=raw["exit_price"],
        entry_fees=raw["entry_fees"],
        exit_fees=raw["exit_fees"],
        pnl=raw["pnl"],
        returns=raw["return"],
        slippage=entry_slip + exit_slip,
        is_open=is_open,
        exit_reason=_exit_reasons(raw, plan, open_, slippage).astype(np.int64),
        symbols=symbols,
    )
