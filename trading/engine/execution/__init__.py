"""Execution: the `Executor` port and the paper (simulated) executor."""

from trading.engine.execution.costs import PaperCosts
from trading.engine.execution.ledger import BalanceLedger
from trading.engine.execution.paper import PaperExecutor
from trading.engine.execution.protocol import (
    Balance,
    DuplicateClientOrderId,
    ExecutionError,
    Executor,
    UnknownOrder,
    same_terms,
)

__all__ = [
    "Balance",
    "BalanceLedger",
    "DuplicateClientOrderId",
    "ExecutionError",
    "Executor",
    "PaperCosts",
    "PaperExecutor",
    "UnknownOrder",
    "same_terms",
]
