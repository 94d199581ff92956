"""One whale-and-flow cycle against the fake Etherscan at the free tier (3 calls/s, real per-second reply).

Reports calls per cycle (by action), rate-limit replies, wall time, and whether every large transfer
was found and every whale classified. The scenario is ``tests.fakes.etherscan_server.whale_cycle_scenario``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from provenance import stamped  # bench/ is on the path when a bench runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.store import Store
from smt_engine.whales.source import EtherscanWhaleSource
from tests.fakes.etherscan_server import FakeEtherscan, whale_cycle_scenario

KEY = "TESTKEY-123456"
DAILY_FREE_TIER = 100_000


async def one_cycle(tmp: Path) -> dict[str, object]:
    with FakeEtherscan(calls_per_second=3) as fake:
        scenario = whale_cycle_scenario(fake)
        settings = Settings.model_validate(
            {
                "engine": {"database": str(tmp / "smt.db")},
                "whales": {"etherscan_base_url": fake.url, "calls_per_second": 3},
            }
        )
        store = Store.open(tmp / "smt.db")
        clock = SimulatedClock(datetime.fromtimestamp(fake.chain.ts_of(fake.chain.head) + 5, UTC))
        source = EtherscanWhaleSource(settings, store, clock, KEY)
        started = time.perf_counter()
        try:
            result = await source.run_cycle("bench")
        finally:
            await source.aclose()
        wall = time.perf_counter() - started
        calls = dict(fake.calls)
        rate_limited = fake.rate_limited
    found = {t.tx_hash for t in result.transfers}
    whales = {w.address for w in result.whales}
    cycles_per_day = 96  # a cycle every 15 minutes
    return {
        "calls": sum(calls.values()),
        "calls_by_action": calls,
        "rate_limit_replies": rate_limited,
        "wall_seconds": round(wall, 2),
        "large_transfers": f"{len(found & scenario.large_hashes)} of {len(scenario.large_hashes)}",
        "whales_classified": f"{sum(1 for w in result.whales if w.whale_class)} of {len(scenario.whales)}",
        "all_found": found == scenario.large_hashes and whales == scenario.whales,
        "errors": result.errors,
        "daily_calls_at_96_cycles": sum(calls.values()) * cycles_per_day,
        "daily_free_tier": DAILY_FREE_TIER,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        row = asyncio.run(one_cycle(Path(tmp)))
    print("whale-and-flow cycle against the fake Etherscan at 3 calls/s")
    for key in ("calls", "rate_limit_replies", "wall_seconds", "large_transfers", "whales_classified"):
        print(f"{key:<22}{row[key]}")
    print(f"{'calls by action':<22}{row['calls_by_action']}")
    print(
        f"{'per day (96 cycles)':<22}{row['daily_calls_at_96_cycles']} of {DAILY_FREE_TIER} free-tier calls"
    )
    print(f"every transfer found and every whale classified: {'PASS' if row['all_found'] else 'FAIL'}")
    out = Path(__file__).parent / "results" / "whale_cycle.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(stamped(row), indent=2) + "\n")


if __name__ == "__main__":
    main()
