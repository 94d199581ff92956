"""The real WEEX contract table the paper venue enforces, and its margin constants."""

from __future__ import annotations

from decimal import Decimal

from smt_engine.domain import Contract

MAINTENANCE_MARGIN_RATE = Decimal("0.005")


def _contract(symbol: str, step: str, tick: str, max_leverage: int) -> Contract:
    return Contract(
        symbol=symbol,
        step_size=Decimal(step),
        tick_size=Decimal(tick),
        min_size=Decimal(step),
        max_size=Decimal(step) * 10_000_000,
        max_leverage=max_leverage,
    )


WEEX_CONTRACTS_2026_01: dict[str, Contract] = {
    c.symbol: c
    for c in (
        # Steps and ticks WEEX itself quoted in January 2026 (seed-orders-2026-01.csv, seed §1.6).
        _contract("BTCUSDT", "0.0001", "0.1", 125),
        _contract("ETHUSDT", "0.001", "0.01", 125),
        _contract("SOLUSDT", "0.1", "0.01", 75),
        _contract("DOGEUSDT", "100", "0.00001", 75),
        _contract("XRPUSDT", "10", "0.0001", 75),
        _contract("ADAUSDT", "10", "0.0001", 75),
        _contract("BNBUSDT", "0.1", "0.01", 75),
        _contract("LTCUSDT", "0.1", "0.01", 75),
    )
}
"""The real WEEX contract table for the eight pairs (January 2026)."""
