"""Each exchange-flow asset and window from ``flow_history`` scored on its own, by hand and without
look-ahead (closed hours only, whole windows only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from smt_engine.backtest.flow_hours import FlowHours
from smt_engine.backtest.report import render
from smt_engine.store import Store
from smt_engine.store.flow_history import FlowHour
from tests.unit.test_backtest import FEE, T0, eth_fixture, run, settings

HOUR = timedelta(hours=1)
DECISION = T0 + 48 * HOUR  # the fixture's one decision time (signal interval 24 h)


def hour(end: datetime, asset: str, net: int, wallets: int = 5) -> FlowHour:
    n = Decimal(net)
    return FlowHour(
        hour=end,
        asset=asset,
        inflow=max(n, Decimal(0)),
        outflow=max(-n, Decimal(0)),
        net=n,
        transfers=3,
        wallets=wallets,
        recorded_at=T0,
    )


def fixture_hours() -> list[FlowHour]:
    rows = []
    for k in range(1, 69):
        end = T0 + k * HOUR
        # USDT: +10 every hour, except a huge outflow in the hour after the decision (never read).
        rows.append(hour(end, "USDT", -1_000_000 if end == DECISION + HOUR else 10))
        # ETH: onto exchanges in the decision's own hour, off them in the five before it; one hour
        # missing 20 h before the decision, so the 24 h window is not whole.
        if end != DECISION - 20 * HOUR:
            rows.append(hour(end, "ETH", 5 if end == DECISION else -3))
        # USDC read with fewer wallets than the fullest hour: a partial total, never a call.
        rows.append(hour(end, "USDC", 1000, wallets=3))
    return rows


def test_windows_sum_closed_whole_hours_only(store: Store) -> None:
    store.flow_history.save(fixture_hours())
    h = FlowHours(store, T0, T0 + 68 * HOUR)
    one = h.window("USDT", 1, DECISION)
    assert one is not None
    assert one.net == 10
    assert h.window("USDT", 1, DECISION + HOUR / 2) == one  # the next hour is still forming
    six = h.window("USDT", 6, DECISION)
    assert six is not None
    assert (six.net, six.inflow, six.transfers) == (60, 60, 18)
    eth6 = h.window("ETH", 6, DECISION)
    assert eth6 is not None
    assert eth6.net == 5 - 5 * 3
    assert h.window("ETH", 24, DECISION) is None  # a missing hour
    assert h.window("USDC", 1, DECISION) is None  # fewer wallets than the fullest hour
    assert h.series()[:3] == [("ETH", 1), ("ETH", 6), ("ETH", 24)]


def test_each_flow_asset_and_window_is_scored_on_its_own_by_hand(store: Store) -> None:
    store.market_history.write("ETHUSDT", "1h", eth_fixture(), "fixture", T0)
    store.flow_history.save(fixture_hours())
    report = run(store, settings())
    src = report["sources"]
    expected = {
        "flow USDT 1h": "LONG",  # stablecoins onto exchanges: buying power arriving
        "flow USDT 6h": "LONG",
        "flow ETH 1h": "SHORT",  # ETH onto exchanges: coins arriving to be sold
        "flow ETH 6h": "LONG",  # net off exchanges over six hours
    }
    # 1 h after the decision ETH closed +0.3 %, 4 h after -0.5 % (tests/unit/test_backtest.py fixture).
    move = {"1h": 0.3, "4h": -0.5}
    for name, side in expected.items():
        assert src[name]["kind"] == "flow"
        assert src[name]["deterministic"]
        assert src[name]["portfolio"] is None  # scored, not traded
        for horizon, pct in move.items():
            fig = src[name]["figures"]["ETH"][horizon]
            assert fig["directional"] == 1, (name, horizon)
            signed = pct if side == "LONG" else -pct
            assert fig["avg_return_pct"] == pytest.approx(signed - FEE, abs=2e-3), (name, horizon)
    # No whole window or a partial total: a WAIT, never a direction.
    for name in ("flow ETH 24h", "flow USDC 1h", "flow USDC 6h", "flow USDC 24h"):
        figs = src[name]["figures"]["ETH"]
        assert all(f["directional"] == 0 and f["waits"] == f["n"] for f in figs.values()), name
    # USDT's window ending 24 h is whole and positive: LONG (the later outflow is never read).
    assert src["flow USDT 24h"]["figures"]["ETH"]["1h"]["directional"] == 1
    text = render(report)
    assert "flow USDT 1h" in text
    assert "scored only, not traded" in text
    assert not any(e["source"].startswith("flow ") for e in report["edge"])  # one call earns nothing
