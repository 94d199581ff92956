"""The exchange-flow signal scored forward per asset and window (subject ``flow``), on known prices."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.config import Settings
from smt_engine.scorecard import build_report, score_due
from smt_engine.store import Store
from smt_engine.store.flows import ExchangeFlow
from tests.analyst_support import open_store
from tests.unit.test_scorecard import T0, falling, history

SETTINGS = Settings.model_validate({"pairs": {"tier1": ["ETH", "BTC"], "tier2": []}})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as s:
        yield s


def flow(
    asset: str, window: int, net: str, hours: float = 1, wallets: int = 8, cycle: str = "c1"
) -> ExchangeFlow:
    n = Decimal(net)
    return ExchangeFlow(
        cycle_id=cycle,
        at=T0 + timedelta(hours=hours),
        window_hours=window,
        asset=asset,
        inflow=max(n, Decimal(0)),
        outflow=max(-n, Decimal(0)),
        net=n,
        transfers=3,
        wallets=wallets,
    )


def test_each_flow_is_scored_per_asset_and_window_in_the_published_direction(store: Store) -> None:
    history(store, "ETHUSDT", falling)  # ETH falls 1 % an hour
    store.exchange_flows.add_cycle(
        [
            flow("ETH", 6, "5000"),  # ETH onto exchanges: SHORT, right
            flow("USDT", 6, "2000000"),  # USDT onto exchanges: LONG, wrong
            flow("USDC", 6, "-1000000"),  # USDC off exchanges: SHORT, right (scored apart from USDT)
            flow("USDT", 1, "0"),  # no net flow: no call
        ]
    )
    store.exchange_flows.add_cycle([flow("ETH", 6, "10", hours=2, wallets=7, cycle="c2")])  # partial read
    added = score_due(SETTINGS, store, T0 + timedelta(hours=30))
    scores = [s for s in store.scores.since() if s.subject == "flow"]
    assert added >= len(scores) == 9  # three flows x 1h, 4h, 24h
    by = {(s.model, s.horizon): s for s in scores}
    assert {m for m, _ in by} == {"ETH 6h", "USDT 6h", "USDC 6h"}
    assert by[("ETH 6h", "4h")].direction == "SHORT"
    assert by[("ETH 6h", "4h")].hit
    assert by[("USDT 6h", "4h")].direction == "LONG"
    assert not by[("USDT 6h", "4h")].hit
    assert by[("USDC 6h", "1h")].direction == "SHORT"
    assert by[("USDC 6h", "1h")].hit
    # 4 h on a market falling 1 % an hour: move 0.99^4 - 1 = -3.94 %; SHORT after 0.16 % fees = +3.78 %.
    assert by[("ETH 6h", "4h")].return_pct == pytest.approx(-(0.99**4 - 1) * 100 - 0.16, abs=1e-3)
    assert all(s.pair == "ETH" and s.analyst == "flow" for s in scores)
    report = build_report(store.scores.lines_since(None), since=None, now=T0 + timedelta(hours=30))
    models = {r["group"] for r in report["groups"]["analyst_model"] if r["subject"] == "flow"}
    assert models == {"flow/ETH 6h", "flow/USDT 6h", "flow/USDC 6h"}


def test_the_flow_horizons_are_configurable(store: Store) -> None:
    history(store, "ETHUSDT", falling)
    store.exchange_flows.add_cycle([flow("ETH", 6, "5000")])
    settings = Settings.model_validate(
        {"pairs": {"tier1": ["ETH"], "tier2": []}, "whales": {"flow_score_horizons": ["2h", "1d"]}}
    )
    score_due(settings, store, T0 + timedelta(hours=30))
    assert sorted(s.horizon for s in store.scores.since() if s.subject == "flow") == ["24h", "2h"]


def test_a_cycle_reads_only_the_flows_with_a_horizon_due_and_unscored(store: Store) -> None:
    """The scorer's read of flows stays the size of what is due, not of the 30-day window (a demo day
    read 255 flow rows an hour early and 1,275 late before), on the index by time."""
    from smt_engine.scorecard.flow_subjects import flow_subjects

    history(store, "ETHUSDT", falling)
    store.exchange_flows.add_cycle([flow("ETH", 6, "5000", hours=1, cycle="c1")])
    store.exchange_flows.add_cycle([flow("ETH", 6, "6000", hours=20, cycle="c2")])
    now = T0 + timedelta(hours=26)  # c1 due at every horizon, c2 at 1 h and 4 h
    assert [s.decided_at for s in flow_subjects(SETTINGS, store, T0, now)] == [
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=20),
    ]
    score_due(SETTINGS, store, now)
    # c1 scored at every horizon: never read again; c2 waits for 24 h: read once it is due, not before.
    assert flow_subjects(SETTINGS, store, T0, now + timedelta(hours=1)) == []
    due = flow_subjects(SETTINGS, store, T0, T0 + timedelta(hours=44))
    assert [s.decided_at for s in due] == [T0 + timedelta(hours=20)]
    plan = " ".join(
        str(row[-1])
        for row in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM exchange_flows WHERE at >= ?", ["2026-01-01"]
        ).fetchall()
    )
    assert "exchange_flows_at" in plan, plan
