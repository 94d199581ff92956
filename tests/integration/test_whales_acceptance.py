"""One whale-and-flow cycle against the fake Etherscan at the free tier's 3 calls/s, answering with the
service's real per-second reply: every large transfer found, every whale classified, flows recorded.
(`bench/bench_whale_cycle.py` runs the same scenario and reports calls and wall time.)"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.store import Store
from smt_engine.whales.source import EtherscanWhaleSource
from tests.fakes.etherscan_server import FakeEtherscan, whale_cycle_scenario

KEY = "TESTKEY-123456"


async def test_one_cycle_at_three_calls_per_second_misses_nothing(tmp_path: Path) -> None:
    with FakeEtherscan(calls_per_second=3) as fake:
        scenario = whale_cycle_scenario(fake)
        settings = Settings.model_validate(
            {
                "engine": {"database": str(tmp_path / "smt.db")},
                "whales": {"etherscan_base_url": fake.url, "calls_per_second": 3},
            }
        )
        store = Store.open(tmp_path / "smt.db")
        clock = SimulatedClock(datetime.fromtimestamp(fake.chain.ts_of(fake.chain.head) + 5, UTC))
        source = EtherscanWhaleSource(settings, store, clock, KEY, backoff_base=0.5)
        try:
            result = await source.run_cycle("c1")
        finally:
            await source.aclose()
        calls = sum(fake.calls.values())

    assert result.errors == []
    assert {t.tx_hash for t in result.transfers} == scenario.large_hashes
    assert {w.address for w in result.whales} == scenario.whales
    by_address = {w.address: w for w in result.whales}
    for address, whale_class in scenario.labelled.items():
        w = by_address[address]
        assert (w.whale_class, w.classified_by) == (whale_class, "label")
        assert w.label
    assert result.aggregate is not None
    assert "labelled: a16z (fund_market_maker)" in result.aggregate.reasoning
    unlabelled = [w for w in result.whales if w.address not in scenario.labelled]
    assert unlabelled
    assert all(w.classified_by == "bootstrap" and w.whale_class for w in unlabelled)

    flows = {(f.window_hours, f.asset): f for f in store.exchange_flows.for_cycle("c1")}
    assert len(flows) == 15
    assert flows[(6, "USDT")].net == Decimal(scenario.usdt_net_6h)
    eth_like = sum(flows[(6, a)].net for a in ("ETH", "WETH", "stETH"))
    assert eth_like == Decimal(scenario.eth_like_net_6h)
    eth_flow = result.flow_signal_for("ETH")
    assert eth_flow is not None
    assert eth_flow.confidence == 0
    # Calls: 3 block lookups, 8 watched wallets x 3 lists, 1 balancemulti, 7 whales x 5 lists.
    health = store.health.get("whales.etherscan")
    assert health is not None
    assert health.data["calls_this_cycle"] == calls
    assert calls - health.data["rate_limited_this_cycle"] == 3 + 8 * 3 + 1 + 7 * 5
