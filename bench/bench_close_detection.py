"""Close detection over the network path: the real engine against the fake WEEX (REST + websocket) on
loopback, wall clock, take-profits triggered on the fake's price path, the engine's default request
limiter (``exchange.rate_limit_weight`` 400 per 10 s, 40 orders a minute).

Latency per close = from the price move at the venue (the fake) that fills the take-profit to the store
showing the position ``closed`` with its sibling stop cancelled on the venue. Measured twice:

- with the private stream: the fill's push wakes the monitor (target: median <= 1 s, p95 <= 2 s);
- with the stream cut (every websocket handshake refused): only the REST poll finds it, so the bound is
  one stream-down poll period plus the tick; the stream's health row must say it is down meanwhile.
  Each take-profit there fires at a seeded random point of the poll period (a fill does not wait for
  a tick to have just ended), so the median is about half the period and the max about all of it.

The streamed figure is also taken with a round-trip time injected on the fake (``faults.latency``, e.g.
50 and 150 ms: WEEX at internet distance): every REST answer takes one round trip and every websocket
push half of one (one way, venue to engine). It is given in round trips as well as milliseconds: on
loopback a REST call costs ~1 ms, live each is one round trip. Before each price move the bench lets
the limiter's 10 s window drain to a tick's worth of room, so a close is not measured behind the bench's
own burst of entries (which a live engine, opening a few positions a day, never makes).

Each setting runs ``--runs`` times with ``--closes`` closes; the JSON has each run's median / p95 and
the pooled figure.

Run: python bench/bench_close_detection.py [--runs 3] [--closes 30] [--cut-closes 30] [--rtt-ms 0,50,150]
[--monitor-interval 15] [--out bench/results/close_detection.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from provenance import stamped  # bench/ is on the path when a bench runs
from stats import nearest_rank

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from smt_engine.config import Settings
from smt_engine.domain import (
    Action,
    Decision,
    EngineState,
    Pair,
    PositionState,
    Tier,
)
from smt_engine.exchange.weex import WeexClient, WeightLimiter
from smt_engine.exchange.weex.limiter import DEFAULT_WEIGHT_BUDGET
from smt_engine.runtime import Runtime, build_runtime
from smt_engine.secrets import SecretStore
from smt_engine.store import Store
from smt_engine.trading.account_reader import snapshot_account
from smt_engine.trading.proposals import Candidate
from tests.fakes.weex_server import FakeWeex

RESULTS = Path(__file__).parent / "results" / "close_detection.json"
ETH = Decimal("3000.00")
TICK_ROOM = 120
"""Weight a monitor tick plus the sibling's cancel may take (positions 15, open orders 10, TP/SL 3, order
history 10, order detail 5 per leg, balance 10, the cancel 3), with margin: left free before a move."""


class NoCycles:
    """Signal cycles are not what is measured; positions are opened directly through the executor."""

    async def run_cycle(self, trigger: str) -> str:
        return "bench-no-cycle"


def settings(db: Path, fake: FakeWeex, monitor_s: float, streams: bool) -> Settings:
    s = Settings.model_validate(
        {
            "engine": {"mode": "paper", "database": str(db), "approval": "auto"},
            "pairs": {"tier1": ["ETH"], "tier2": []},
            "analyst": {"provider": "heuristic"},
            "whales": {"enabled": False},
            "exchange": {"ws_url": fake.ws_url, "streams": streams},
            "trading": {"poll_interval": "1s"},
            "risk": {"max_open_positions": 5},
        }
    )
    s.engine.monitor_interval = timedelta(seconds=monitor_s)
    return s


async def open_position(rt: Runtime, client: WeexClient) -> int:
    contracts = await client.contracts(["ETHUSDT"])
    async with rt.engine.lock:
        account = snapshot_account(
            rt.store,
            rt.settings,
            rt.clock.now(),
            await client.balance(),
            await client.positions(),
            EngineState.RUNNING,
            contracts=contracts,
        )
        decision = Decision(Action.LONG, 0.8, Decimal(2), Decimal(1), 6, "bench")
        outcome = rt.book.run_cycle(
            [Candidate(Pair("ETH", Tier.ONE), decision, contracts["ETHUSDT"], ETH)], account
        )
        assert outcome.approved, outcome
        result = await rt.executor.execute(outcome.approved[0], EngineState.RUNNING)
    assert result.position is not None, result.detail
    assert result.position.id is not None, result.detail
    return result.position.id


async def run(
    closes: int, monitor_s: float, cut: bool, rtt: float = 0.0, seed: int = 24
) -> tuple[list[float], list[str], float]:
    samples: list[float] = []
    health_seen: list[str] = []
    waited = 0.0
    phase = random.Random(seed)
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeWeex(prices={"ETHUSDT": ETH}, balance=Decimal(100_000)) as fake,
    ):
        fake.ws.faults.cut = cut
        fake.faults.latency = rtt  # one round trip per REST request, half of one per push
        db = Path(tmp) / "bench.db"
        store = Store.open(db)
        limiter = WeightLimiter()  # the engine's defaults (exchange.rate_limit_weight, order caps)
        assert limiter.capacity == DEFAULT_WEIGHT_BUDGET
        client = WeexClient(
            api_key=fake.api_key,
            api_secret=fake.secret,
            passphrase=fake.passphrase,
            base_url=fake.base_url,
            store=store,
            limiter=limiter,
        )
        cfg = settings(db, fake, monitor_s, streams=True)
        rt = build_runtime(cfg, store, client.clock, SecretStore(env={}, use_keyring=False), exchange=client)
        rt.engine.cycle = NoCycles()
        engine = asyncio.create_task(rt.engine.run())
        while rt.engine.state is not EngineState.RUNNING:  # noqa: ASYNC110 - state is a plain attribute
            await asyncio.sleep(0.01)
        for _ in range(closes):
            fake.set_price("ETHUSDT", ETH)
            position_id = await open_position(rt, client)
            position = store.positions.get(position_id)
            assert position is not None
            assert position.tp_price is not None
            if not cut:  # the entry's own pushes wake the monitor; let that tick pass first
                await asyncio.sleep(0.2 + 12 * rtt)
                streams = rt.engine.streams
                while rt.engine.lock.locked() or (streams is not None and streams.wake.is_set()):  # noqa: ASYNC110 - polls the engine's state
                    await asyncio.sleep(0.01)
            begun = time.perf_counter()
            while limiter.used() + TICK_ROOM > limiter.capacity:  # noqa: ASYNC110 - the limiter's window
                await asyncio.sleep(0.05)
            waited += time.perf_counter() - begun
            if cut:  # a fill comes at any point of the poll period, not just after a tick: a seeded phase
                polls = rt.settings.engine
                period = min(polls.monitor_interval, polls.monitor_interval_stream_down)
                await asyncio.sleep(phase.uniform(0, period.total_seconds()))
            started = time.perf_counter()  # the move reaches the venue during the call below
            fake.set_price("ETHUSDT", position.tp_price + Decimal(1))
            while True:
                done = store.positions.get(position_id)
                if done is not None and done.state is PositionState.CLOSED:
                    legs = fake.call(fake.venue.open_algo_orders("ETHUSDT"))
                    if not legs:
                        break
                await asyncio.sleep(0.002)
            samples.append(time.perf_counter() - started)
            assert done.close_reason is not None
            assert done.close_reason.value == "take-profit"
            row = store.health.get("exchange.stream.private")
            health_seen.append(row.status.value if row else "none")
        rt.engine.stop()
        await asyncio.wait_for(engine, 30)
        await rt.aclose()
        store.close()
    return samples, health_seen, waited


def describe(samples: list[float], rtt: float = 0.0) -> dict[str, float]:
    ordered = sorted(samples)
    median = statistics.median(ordered)
    p95 = nearest_rank(ordered, 0.95)
    row = {
        "rtt_ms": round(rtt * 1000, 1),
        "median_ms": round(median * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "n": len(ordered),
    }
    if rtt > 0:
        row["median_round_trips"] = round(median / rtt, 2)
        row["p95_round_trips"] = round(p95 / rtt, 2)
    return row


def setting(runs: int, closes: int, monitor_s: float, cut: bool, rtt: float) -> dict[str, Any]:
    """``runs`` runs of one setting: each run's figures, the pooled figure and the raw samples."""
    per_run: list[dict[str, float]] = []
    pooled: list[float] = []
    health: set[str] = set()
    for n in range(runs):
        samples, seen, waited = asyncio.run(run(closes, monitor_s, cut=cut, rtt=rtt, seed=24 + n))
        row = describe(samples, rtt)
        row["limiter_wait_s"] = round(waited, 1)
        per_run.append(row)
        pooled += samples
        health |= set(seen)
        print(f"{'cut' if cut else 'stream'} rtt {rtt * 1000:g} ms run {n + 1}: {row}", flush=True)
    return {
        "runs": per_run,
        "pooled": describe(pooled, rtt),
        "samples_ms": [round(v * 1000, 1) for v in pooled],
        "stream_health": sorted(health),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per setting")
    parser.add_argument("--closes", type=int, default=30, help="closes per streamed run")
    parser.add_argument("--cut-closes", type=int, default=30, help="closes per run with the stream cut")
    parser.add_argument("--rtt-ms", default="0,50,150", help="injected round-trip times, comma-separated")
    parser.add_argument("--monitor-interval", type=float, default=15.0, help="seconds")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args()
    rtts = [float(v) / 1000 for v in args.rtt_ms.split(",") if v.strip()]
    load_before = os.getloadavg()
    began = datetime.now(UTC)
    streamed = [setting(args.runs, args.closes, args.monitor_interval, False, rtt) for rtt in rtts]
    cut = setting(args.runs, args.cut_closes, args.monitor_interval, True, 0.0)
    results = {
        "started_utc": began.isoformat(timespec="seconds"),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": args.runs,
        "closes_per_run": args.closes,
        "cut_closes_per_run": args.cut_closes,
        "monitor_interval_s": args.monitor_interval,
        "limiter": {
            "weight_per_10s": WeightLimiter().capacity,
            "orders_per_minute": WeightLimiter().orders_per_minute,
            "room_before_each_move": TICK_ROOM,
        },
        "push_delay": "half the injected round trip (one way), on every websocket push",
        "with_stream": streamed,
        "stream_cut_rest_only": cut,
        "stream_cut_fill_phase": "seeded uniform point of the stream-down poll period (Random(24 + run))",
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }
    print(
        f"{'fill -> closed, siblings cancelled':<36} {'RTT':>7} {'median':>10} {'p95':>10} {'max':>10} "
        f"{'median RT':>9} {'p95 RT':>7} {'n':>4}"
    )
    rows = [("with private stream", s) for s in streamed]
    rows.append(("stream cut (REST only)", cut))
    for name, block in rows:
        labelled = [(f"{name} run {i + 1}", r) for i, r in enumerate(block["runs"])]
        for label, row in [*labelled, (f"{name} pooled", block["pooled"])]:
            print(
                f"{label:<36} {row['rtt_ms']:>4} ms {row['median_ms']:>7} ms {row['p95_ms']:>7} ms "
                f"{row['max_ms']:>7} ms {row.get('median_round_trips', '-'):>9} "
                f"{row.get('p95_round_trips', '-'):>7} {row['n']:>4}"
            )
    print(f"monitor interval {args.monitor_interval:g} s; load average {results['load_average_before']}")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(stamped(results), indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
