"""Exchange protocol, WEEX client, paper venue and market data."""
