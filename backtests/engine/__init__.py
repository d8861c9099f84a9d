"""Honest vectorised backtesting, pure Python (no Django).

Modules, by concept:
- `costs`, `sizing`, `config`: what a backtest charges and how much it trades;
- `strategies`: the shipped strategies and the registry (`get_strategy`,
  `list_strategies`, `register`); `batch_signals`, `signal_kernels`: signals
  of many parameter sets at once;
- `backtest`: `run_backtest`, `run_batch`, `run_multi` (vectorbt underneath:
  `execution` builds the orders, `simulator` runs them, `ledger` and `trades`
  read them back); `results`: what they return; `reference`: an independent
  long-only simulator for cross-checks;
- `statistics`, `time_analysis`: every figure, defined once;
- `monte_carlo`, `walk_forward`, `splits`, `optimizer`, `overfitting`,
  `lookahead`: validation of a strategy beyond a single backtest.
Importing a module that simulates (`backtest` and above) imports vectorbt,
which takes a few seconds.
"""
