"""Engine benchmarks: one signal cycle's own CPU time (8 pairs, 10 whales) and close-detection latency.

Both run the real engine components against zero-latency in-process venues (the paper venue over a
synthetic or hand-set market, the synthetic whale chain, the heuristic analyst), so the figures are
the engine's own cost, not the network's.

Close-detection latency = time from the exchange-side fill of a take-profit to the store showing the
position closed with its reason and the sibling stop cancelled. On a schedule it is bounded by the
monitor interval (15 s by default) plus the processing time of the tick that sees it, which is what
is measured here.

Run: python bench/bench_engine.py   (writes bench/results/engine.json)
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from provenance import stamped  # bench/ is on the path when a bench runs
from stats import nearest_rank

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import ApprovalMode, EngineState, PositionState
from smt_engine.exchange.market import ManualMarket, SyntheticMarket
from smt_engine.exchange.paper import PaperExchange
from smt_engine.runtime import build_runtime
from smt_engine.secrets import SecretStore
from smt_engine.store import Store
from smt_engine.whales.source import SyntheticWhaleSource

T0 = datetime(2026, 1, 20, 8, 0, tzinfo=UTC)
RESULTS = Path(__file__).parent / "results" / "engine.json"


def settings(db: Path, approval: ApprovalMode = ApprovalMode.AUTO) -> Settings:
    s = Settings.model_validate(
        {
            "engine": {"mode": "demo", "database": str(db)},
            "analyst": {"provider": "heuristic"},
            "whales": {"max_whales": 10},
            "trading": {"poll_interval": "1s"},
        }
    )
    s.engine.approval = approval
    return s


async def cycle_cpu(rounds: int) -> list[float]:
    """CPU seconds of ``pipeline.run_cycle`` (8 pairs, 10 whales), one fresh database per round."""
    samples = []
    for i in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "b.db"
            cfg = settings(db, ApprovalMode.MANUAL)  # measure analysis and gating, not order placement
            store = Store.open(db)
            clock = SimulatedClock(T0)
            venue = PaperExchange(SyntheticMarket(clock, seed=i), clock)
            whales = SyntheticWhaleSource(cfg, store, clock, seed=i, whales=10)
            rt = build_runtime(
                cfg, store, clock, SecretStore(env={}, use_keyring=False), exchange=venue, whales=whales
            )
            await rt.monitor.tick(startup=True)
            started = time.process_time()
            await rt.pipeline.run_cycle("bench")
            samples.append(time.process_time() - started)
            assert store.analyses.count() == 8, "every pair analysed"
            await rt.aclose()
            store.close()
    return samples


async def close_detection(rounds: int) -> list[float]:
    """Wall seconds of the monitor tick that finds a take-profit fill and finishes the close."""
    samples = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "b.db"
            cfg = settings(db)
            store = Store.open(db)
            clock = SimulatedClock(T0)
            market = ManualMarket(clock, {"ETHUSDT": Decimal("3000.00")})
            venue = PaperExchange(market, clock)
            rt = build_runtime(cfg, store, clock, SecretStore(env={}, use_keyring=False), exchange=venue)
            from smt_engine.domain import Action, Decision, Pair, Tier
            from smt_engine.trading.account_reader import snapshot_account
            from smt_engine.trading.proposals import Candidate

            pair = Pair("ETH", Tier.ONE)
            decision = Decision(Action.LONG, 0.8, Decimal(2), Decimal(1), 6, "bench")
            contracts = await venue.contracts(["ETHUSDT"])
            account = snapshot_account(
                store,
                cfg,
                clock.now(),
                await venue.balance(),
                await venue.positions(),
                EngineState.RUNNING,
                contracts=contracts,
            )
            outcome = rt.book.run_cycle(
                [Candidate(pair, decision, contracts["ETHUSDT"], Decimal("3000.00"))], account
            )
            task = asyncio.create_task(rt.executor.execute(outcome.approved[0], EngineState.RUNNING))
            while not task.done():
                await clock.advance(1)
            opened = task.result().position
            assert opened is not None, task.result()
            assert opened.id is not None, task.result()
            position = store.positions.get(opened.id)
            assert position is not None, task.result().detail
            assert position.tp_price is not None, task.result().detail
            await clock.advance(60)
            market.set_price("ETHUSDT", position.tp_price + Decimal(1))
            started = time.perf_counter()
            await rt.monitor.tick()
            elapsed = time.perf_counter() - started
            closed = store.positions.get(position.id)
            assert closed is not None
            assert closed.state is PositionState.CLOSED
            assert closed.close_reason is not None
            assert closed.close_reason.value == "take-profit"
            assert not await venue.open_algo_orders("ETHUSDT"), "sibling stop cancelled"
            samples.append(elapsed)
            await rt.aclose()
            store.close()
    return samples


def describe(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(nearest_rank(ordered, 0.95) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "n": len(ordered),
    }


def main() -> None:
    cycle = describe(asyncio.run(cycle_cpu(20)))
    close = describe(asyncio.run(close_detection(10)))
    monitor_s = Settings().engine.monitor_interval.total_seconds()
    results = {
        "cycle_cpu_8_pairs_10_whales": cycle,
        "close_detection_tick": close,
        "close_detection_worst_case_s": round(monitor_s + close["max_ms"] / 1000, 3),
    }
    print(f"{'benchmark':<40} {'median':>10} {'p95':>10} {'max':>10}")
    print(
        f"{'cycle CPU time (8 pairs, 10 whales)':<40} {cycle['median_ms']:>8} ms {cycle['p95_ms']:>7} ms "
        f"{cycle['max_ms']:>7} ms"
    )
    print(
        f"{'close detection (detecting tick)':<40} {close['median_ms']:>8} ms {close['p95_ms']:>7} ms "
        f"{close['max_ms']:>7} ms"
    )
    print(f"worst-case fill -> closed in store: monitor interval {monitor_s:.0f} s + {close['max_ms']} ms")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(stamped(results), indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
