"""Market history for backtests: fetched from WEEX's public history klines or imported from CSV files,
checked, and stored apart from the bars the engine saw (``store.market_history``)."""
