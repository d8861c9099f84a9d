"""Pure-Python trading engine: market data containers, indicators, strategies, agents.

Nothing in this package imports Django; it works on numpy arrays and frozen
dataclasses so that it can be tested without a database and reused unchanged
by backtests, paper and live trading.
"""
