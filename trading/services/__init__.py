"""Market-data use-cases (the write side). Import from the submodules:

- `instruments`: exchange_get_or_create, instrument_get_or_create
- `candles`: candles_import, funding_import, candles_store
- `fetch`: candles_fetch, candles_sync (ccxt backfill and the scheduled sync)
- `resample`: candles_resample

Kept free of re-exports so importing one use-case does not import ccxt.
"""
