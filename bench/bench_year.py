"""Flat as history grows: the engine's per-tick reads, its monitor tick, a signal cycle, the scorecard and the
console's reads, measured on an empty database and on a one-year one (``bench/year_db.py``), ratio printed;
plus the idle CPU of a running engine and of an attached console on both.

Acceptance (issue 24): every per-tick read within 1.2x (or 2 ms) of the empty database; the console's
first full read at start-up <= 50 ms (it is bounded by what the console shows, not by a ratio); engine idle
CPU <= 1 % and console idle CPU <= 0.5 % on both; signal cycle CPU p95 <= 1 s on both.

Run: PYTHONPATH=. python bench/bench_year.py [--scale 1.0] [--year PATH] [--cycles 20] [--quick] [--out PATH]
(``--year`` reuses a database built by ``bench/year_db.py`` at that scale; otherwise one is built.)
Writes bench/results/year.json unless ``--out`` says where; the UTC times and load averages of the run
are in it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provenance import stamped  # bench/ is on the path when a bench runs
from stats import nearest_rank

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_console import measure_idle_cpu  # noqa: E402
from year_db import END, build  # noqa: E402

from smt_engine.clock import SimulatedClock  # noqa: E402
from smt_engine.config import Settings  # noqa: E402
from smt_engine.domain import ApprovalMode, EngineState, EventLevel  # noqa: E402
from smt_engine.exchange.market import SyntheticMarket  # noqa: E402
from smt_engine.exchange.paper import PaperExchange  # noqa: E402
from smt_engine.runtime import build_runtime  # noqa: E402
from smt_engine.scorecard.recording import publish_report  # noqa: E402
from smt_engine.scorecard.scoring import score_due  # noqa: E402
from smt_engine.secrets import SecretStore  # noqa: E402
from smt_engine.store import Store  # noqa: E402
from smt_engine.store.retention import thin_snapshots  # noqa: E402
from smt_engine.trading.account_reader import IN_FLIGHT, snapshot_account  # noqa: E402
from smt_engine.trading.kill_switch import loss_references  # noqa: E402
from smt_engine.trading.limits import LimitsPublisher  # noqa: E402
from smt_engine.whales.source import SyntheticWhaleSource  # noqa: E402
from smt_tui.state import ReadModel  # noqa: E402

NOW = END
START_UP = "console: first full read (start-up; bounded by its display limits, not per tick)"
START_UP_TARGET_MS = 50.0
CYCLE_P95_TARGET_MS = 1000.0
ENGINE_IDLE_TARGET_PCT = 1.0
CONSOLE_IDLE_TARGET_PCT = 0.5
RESULTS = ROOT / "bench" / "results" / "year.json"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def settings(db: Path) -> Settings:
    s = Settings.model_validate(
        {
            "engine": {"mode": "demo", "database": str(db)},
            "analyst": {"provider": "heuristic"},
            "whales": {"max_whales": 10},
        }
    )
    s.engine.approval = ApprovalMode.MANUAL
    return s


def timed(fn: Callable[[], object], rounds: int) -> float:
    """Median wall ms of ``fn`` (the reads are CPU-bound in SQLite and Python)."""
    samples = []
    fn()  # warm the page cache and the codec's plans: a running engine has both warm
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def tick_reads(db: Path, rounds: int) -> dict[str, float]:
    """The reads the engine makes every monitor tick (15 s) and limits pass (5 s), and the console's."""
    cfg = settings(db)
    store = Store.open(db)
    reader = Store.open(db, readonly=True)
    try:
        open_now = store.positions.open_positions()
        position_id = open_now[-1].id if open_now else 1
        publisher = LimitsPublisher(cfg, store, SimulatedClock(NOW), None)
        model = ReadModel(reader, now=lambda: NOW)
        model.poll()

        def console_after_heartbeat() -> None:
            store.engine.set(heartbeat_at=datetime.now(NOW.tzinfo))
            assert model.poll() is not None

        def console_after_mark() -> None:
            if open_now:
                store.positions.update(position_id, mark_price=open_now[-1].entry_price, updated_at=NOW)
            store.events.append(NOW, EventLevel.INFO, "bench", "tick")
            model.poll()

        def console_full() -> None:
            ReadModel(reader, now=lambda: NOW).poll()

        def account_state() -> None:
            snapshot_account(store, cfg, NOW, None, [], EngineState.RUNNING)

        reads: dict[str, Callable[[], object]] = {
            "loss references (daily-loss opening + peak equity)": lambda: loss_references(store, cfg, NOW),
            "risk inputs (snapshot_account)": account_state,
            "last stop per symbol": store.positions.last_stop_losses,
            "open positions": store.positions.open_positions,
            "open exposure (proposals in flight)": lambda: store.proposals.in_state(*IN_FLIGHT),
            "open orders": store.orders.open_orders,
            "orders of a position": lambda: store.orders.for_position(position_id or 1),
            "latest account snapshot": store.account.latest,
            "limits publish (no change)": lambda: asyncio.run(publisher.publish(EngineState.RUNNING)),
            "console: poll after a heartbeat": console_after_heartbeat,
            "console: poll after a monitor tick": console_after_mark,
        }
        out = {name: round(timed(fn, rounds), 3) for name, fn in reads.items()}
        out[START_UP] = round(timed(console_full, rounds), 3)
        return out
    finally:
        reader.close()
        store.close()


async def engine_work(db: Path, cycles: int) -> dict[str, Any]:
    """CPU ms of a monitor tick, a signal cycle (8 pairs, 10 whales) and the scorecard on this database.

    The first cycle after start-up also counts the scorecard's 30-day window afresh (later ones update it),
    so the cycle figures are given over every cycle and over those after the first.
    """
    cfg = settings(db)
    store = Store.open(db)
    clock = SimulatedClock(NOW)
    venue = PaperExchange(SyntheticMarket(clock, seed=1), clock)
    whales = SyntheticWhaleSource(cfg, store, clock, seed=1, whales=10)
    rt = build_runtime(
        cfg, store, clock, SecretStore(env={}, use_keyring=False), exchange=venue, whales=whales
    )
    try:
        await rt.monitor.tick(startup=True)
        ticks = []
        for _ in range(20):
            await clock.advance(15)
            t0 = time.process_time()
            await rt.monitor.tick()
            ticks.append((time.process_time() - t0) * 1000)
        cycle = []
        for i in range(cycles):
            await clock.advance(4 * 3600)
            t0 = time.process_time()
            await rt.pipeline.run_cycle(f"bench-{i}")
            cycle.append((time.process_time() - t0) * 1000)
        score, report = [], []
        for _ in range(5):
            await clock.advance(3600)
            t0 = time.process_time()
            score_due(cfg, store, clock.now())
            t1 = time.process_time()
            publish_report(store, clock.now())
            score.append((t1 - t0) * 1000)
            report.append((time.process_time() - t1) * 1000)
    finally:
        await rt.aclose()
        store.close()
    steady = cycle[1:] or cycle
    return {
        "monitor_tick_cpu_ms": round(statistics.median(ticks), 2),
        "cycle_cpu_ms": [round(c) for c in cycle],
        "cycle_cpu_ms_median": round(statistics.median(cycle), 1),
        "cycle_cpu_ms_p95": round(nearest_rank(cycle, 0.95), 1),
        "cycle_cpu_ms_median_after_first": round(statistics.median(steady), 1),
        "cycle_cpu_ms_p95_after_first": round(nearest_rank(steady, 0.95), 1),
        "scorecard_scoring_cpu_ms": round(statistics.median(score), 2),
        "scorecard_report_cpu_ms": round(statistics.median(report), 2),
    }


ENGINE_IDLE = """
import asyncio, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from datetime import timedelta
from bench_year import settings
from smt_engine.clock import WallClock
from smt_engine.exchange.market import SyntheticMarket
from smt_engine.exchange.paper import PaperExchange
from smt_engine.runtime import build_runtime
from smt_engine.secrets import SecretStore
from smt_engine.store import EngineLock, Store
from smt_engine.whales.source import SyntheticWhaleSource
from pathlib import Path
db = Path({db!r})
cfg = settings(db)
clock = WallClock()
store = Store.open(db)
store.engine.set(next_cycle_at=clock.now() + timedelta(days=1))  # idle: no signal cycle in the window
venue = PaperExchange(SyntheticMarket(clock, seed=1), clock)
whales = SyntheticWhaleSource(cfg, store, clock, seed=1, whales=10)
rt = build_runtime(cfg, store, clock, SecretStore(env={{}}, use_keyring=False), exchange=venue, whales=whales)
async def main():
    task = asyncio.create_task(rt.engine.run())
    await asyncio.sleep({warmup})
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep({seconds})
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    rt.engine.stop(); await task; await rt.aclose()
    print(f"{{cpu / wall * 100:.3f}}")
with EngineLock(db):
    asyncio.run(main())
"""


def engine_idle_cpu(db: Path, seconds: float) -> float:
    """CPU % of one core of the real engine, running on the wall clock with nothing to do but its loops."""
    code = ENGINE_IDLE.format(
        root=str(ROOT), bench=str(ROOT / "bench"), db=str(db), warmup=5, seconds=seconds
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=seconds + 120
    )
    return float(out.stdout.strip().splitlines()[-1])


def catch_up(db: Path) -> float:
    """Thin the snapshots as a long-running engine's retention has (the year file is built unpruned, the
    reads above run on it whole); returns the seconds the one-off catch-up took."""
    store = Store.open(db)
    t0 = time.perf_counter()
    try:
        while not thin_snapshots(store, datetime.now(NOW.tzinfo))[1]:
            pass
    finally:
        store.close()
    return round(time.perf_counter() - t0, 1)


def empty_db(path: Path) -> None:
    """The year database's first position and nothing else: a fresh engine holding one open position (the
    console's attached writer moves its mark price, as a monitor tick does)."""
    build(path, scale=0.0, end=NOW)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--year", type=Path, help="a database built by bench/year_db.py at --scale")
    parser.add_argument("--cycles", type=int, default=20, help="signal cycles measured per database")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and cycles, shorter idle windows")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args()
    rounds, cycles, idle_s = (10, 2, 10.0) if args.quick else (40, args.cycles, 30.0)
    results: dict[str, Any] = {
        "scale": args.scale,
        "cycles": cycles,
        "started_at_utc": utc_now(),
        "load_average_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        year = Path(tmp) / "year.db"
        if args.year:
            shutil.copyfile(args.year, year)
        else:
            t0 = time.perf_counter()
            results["year_counts"] = build(year, scale=args.scale)
            results["build_s"] = round(time.perf_counter() - t0, 1)
        empty = Path(tmp) / "empty.db"
        empty_db(empty)
        for name, db in (("empty", empty), ("year", year)):
            work = Path(tmp) / f"{name}-work.db"
            shutil.copyfile(db, work)
            figures: dict[str, Any] = {"measured_at_utc": utc_now(), "load_average_at": os.getloadavg()}
            figures["reads_ms"] = tick_reads(work, rounds)
            figures.update(asyncio.run(engine_work(work, cycles)))
            shutil.copyfile(db, work)
            figures["retention_catch_up_s"] = catch_up(work)
            figures["engine_idle_cpu_pct"] = engine_idle_cpu(work, idle_s)
            shutil.copyfile(db, work)
            figures["console_idle_cpu_pct"] = measure_idle_cpu(work, idle_s, heartbeat=5.0, monitor_every=3)
            figures["load_average_end"] = os.getloadavg()
            results[name] = figures
    results["ratios"] = {
        k: round(results["year"]["reads_ms"][k] / max(results["empty"]["reads_ms"][k], 1e-6), 2)
        for k in results["empty"]["reads_ms"]
    }
    work_keys = (
        "monitor_tick_cpu_ms",
        "cycle_cpu_ms_median",
        "cycle_cpu_ms_p95",
        "cycle_cpu_ms_median_after_first",
        "cycle_cpu_ms_p95_after_first",
        "scorecard_scoring_cpu_ms",
        "scorecard_report_cpu_ms",
        "retention_catch_up_s",
        "engine_idle_cpu_pct",
        "console_idle_cpu_pct",
    )
    results["work_ratios"] = {  # the engine's and the console's work, year over empty
        k: round(results["year"][k] / results["empty"][k], 2) if results["empty"][k] else None
        for k in work_keys
    }
    results["finished_at_utc"] = utc_now()
    results["within_target"] = {
        k: results["year"]["reads_ms"][k] <= max(1.2 * e, e + 2)
        for k, e in results["empty"]["reads_ms"].items()
        if k != START_UP
    }
    results["within_target"][START_UP] = all(
        results[name]["reads_ms"][START_UP] <= START_UP_TARGET_MS for name in ("empty", "year")
    )
    results["targets"] = {
        START_UP: f"<= {START_UP_TARGET_MS:g} ms on both databases",
        "cycle_cpu_ms_p95": f"<= {CYCLE_P95_TARGET_MS:g} ms on both databases",
        "engine_idle_cpu_pct": f"<= {ENGINE_IDLE_TARGET_PCT:g} % on both databases",
        "console_idle_cpu_pct": f"<= {CONSOLE_IDLE_TARGET_PCT:g} % on both databases",
    }
    limits = {
        "cycle_cpu_ms_p95": CYCLE_P95_TARGET_MS,
        "engine_idle_cpu_pct": ENGINE_IDLE_TARGET_PCT,
        "console_idle_cpu_pct": CONSOLE_IDLE_TARGET_PCT,
    }
    results["engine_within_target"] = {
        key: all(results[name][key] <= limit for name in ("empty", "year")) for key, limit in limits.items()
    }
    print(f"one-year database at scale {args.scale} (load average {results['load_average_start']})")
    print(f"{'per-tick read':<52} {'empty ms':>9} {'year ms':>9} {'ratio':>6}  ok")
    for k, ratio in results["ratios"].items():
        e, y = results["empty"]["reads_ms"][k], results["year"]["reads_ms"][k]
        ok = {True: "yes", False: "NO"}[results["within_target"][k]]
        print(f"{k[:52]:<52} {e:>9.3f} {y:>9.3f} {ratio:>6}  {ok}")
    print(f"{'work (CPU ms, s, %)':<52} {'empty':>9} {'year':>9} {'ratio':>6}")
    for key in work_keys:
        e, y = results["empty"][key], results["year"][key]
        print(f"{key:<52} {e!s:>9} {y!s:>9} {results['work_ratios'][key]!s:>6}")
    for key, ok in results["engine_within_target"].items():
        print(f"{key} {results['targets'][key]}: {'yes' if ok else 'NO'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(stamped(results), indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
