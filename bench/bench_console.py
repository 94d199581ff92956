"""Console benchmark on a large database (10k closed positions, 100k events).

Measures: start-up to first paint; time from an engine-side commit to the change being visible in
the app; keypress to screen for tab switches, and the console's CPU time per switch (the wall-clock
figure rises with the machine's load, the CPU figure much less); work per refresh tick (idle check,
and read + UI apply after a change); idle CPU of the console attached to a running engine (a writer
that holds the engine lock, beats the heartbeat every 5 s and moves a mark price every 15 s, the
engine's defaults; and the same with a write every second; each the median of three consecutive windows
of 30 s (10 s with ``--quick``) from 2 s after the first paint); and the console beside the real demo
engine with its clock running at 60x (``--demo-only`` measures only that). Prints a table and writes
bench/results/console.json (console-demo.json for ``--demo-only``; console-demo-waiting.json for
``--demo-waiting``, the same with a proposal left waiting undecided; console-empty-idle.json for
``--empty-idle``, the idle figure alone on bench/year_db.py's empty database).

Run: PYTHONPATH=. python bench/bench_console.py [--quick] [--demo-only | --demo-waiting | --empty-idle]
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
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from provenance import stamped  # bench/ is on the path when a bench runs
from stats import nearest_rank
from textual import events

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smt_engine.domain import EventLevel  # noqa: E402
from smt_engine.store import EngineLock, Store  # noqa: E402
from smt_tui.app import open_console  # noqa: E402
from smt_tui.state import ConsoleConfig, ReadModel  # noqa: E402
from smt_tui.widgets.positions_table import PositionsTable  # noqa: E402
from tests.tui.fixtures import NOW, build_database  # noqa: E402

TARGETS = {"commit_to_visible_ms": 500.0, "tick_ms": 50.0, "tab_switch_ms_p50": 100.0, "idle_cpu_pct": 0.5}
TAB_KEYS = ("1", "2", "3", "4", "5", "6", "7")


async def measure_app(db: Path, rounds: int) -> dict[str, float]:
    config = ConsoleConfig(refresh_interval=0.3)
    offset = datetime.now(UTC) - NOW
    started = time.perf_counter()
    app = open_console(db, config=config, now=lambda: datetime.now(UTC))
    writer = Store.open(db)
    lock = EngineLock(db)
    lock.acquire()
    latencies: list[float] = []
    try:
        async with app.run_test(size=(160, 48)):
            while app.first_paint is None:  # noqa: ASYNC110 - polling is the measurement
                await asyncio.sleep(0.005)
            first_paint_ms = (app.first_paint - started) * 1000
            table = app.main.query_one(PositionsTable)
            fixture_position = writer.positions.open_positions()[-1]
            key = f"position:{fixture_position.id}"
            for i in range(rounds):
                await asyncio.sleep(0.05 + (i % 7) * 0.053)  # land at different points of the poll cycle
                value = Decimal(100 + i) + Decimal("0.25")
                writer.positions.update(fixture_position.id, unrealized_pnl=value, updated_at=NOW + offset)
                t0 = time.perf_counter()
                wanted = f"{value:+,.2f}"
                while wanted not in table._cells[key][5].plain:  # noqa: ASYNC110 - polling is the measurement
                    await asyncio.sleep(0.002)
                latencies.append((time.perf_counter() - t0) * 1000)
            apply_ms = list(app.apply_ms[1:])
            switches, switch_cpu_ms = await measure_tab_switches(app, rounds)
    finally:
        lock.release()
        writer.close()
        app.model.store.close()
    return {
        "first_paint_ms": first_paint_ms,
        "commit_to_visible_ms_p50": statistics.median(latencies),
        "commit_to_visible_ms_p95": nearest_rank(latencies, 0.95),
        "commit_to_visible_ms_max": max(latencies),
        "ui_apply_ms_p50": statistics.median(apply_ms),
        "ui_apply_ms_max": max(apply_ms),
        "tab_switch_ms_p50": statistics.median(switches),
        "tab_switch_ms_max": max(switches),
        "tab_switch_cpu_ms": switch_cpu_ms,
    }


async def measure_tab_switches(app: Any, rounds: int) -> tuple[list[float], float]:
    """Keypress to the next frame painted with the new tab shown; and CPU ms per switch."""
    from smt_tui.screens.main import TABS

    times: list[float] = []
    cpu0 = time.process_time()
    for i in range(rounds * 2):
        key = TAB_KEYS[i % len(TAB_KEYS)]
        tab = TABS[int(key) - 1][0]
        painted = asyncio.Event()
        t0 = time.perf_counter()
        app.post_message(events.Key(key, key))
        while app.main.active_tab != tab:  # noqa: ASYNC110 - polling is the measurement
            await asyncio.sleep(0.001)
        app.call_after_refresh(painted.set)
        await painted.wait()
        times.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.05)
    # CPU per switch (this process, pauses included): what a loaded machine inflates much less.
    return times, (time.process_time() - cpu0) * 1000 / len(times)


def measure_ticks(db: Path, rounds: int) -> dict[str, float]:
    reader = Store.open(db, readonly=True)
    writer = Store.open(db)
    try:
        model = ReadModel(reader)
        model.poll()
        idle: list[float] = []
        changed: list[float] = []
        for i in range(rounds):
            t0 = time.perf_counter()
            assert model.poll() is None
            idle.append((time.perf_counter() - t0) * 1000)
            writer.events.append(datetime.now(UTC), EventLevel.INFO, "bench", f"tick {i}")
            t0 = time.perf_counter()
            snap = model.poll()
            changed.append((time.perf_counter() - t0) * 1000)
            assert snap is not None
            assert snap.changed == {"events"}
    finally:
        reader.close()
        writer.close()
    return {
        "idle_tick_ms_p50": statistics.median(idle),
        "idle_tick_ms_max": max(idle),
        "change_tick_read_ms_p50": statistics.median(changed),
        "change_tick_read_ms_p95": nearest_rank(changed, 0.95),
        "change_tick_read_ms_max": max(changed),
    }


ENGINE_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from datetime import UTC, datetime
from decimal import Decimal
from smt_engine.domain import EngineState
from smt_engine.store import EngineLock, Store
lock = EngineLock({db!r}); lock.acquire()
store = Store.open({db!r})
store.engine.set(state=EngineState.RUNNING)  # a running engine (the year file's was stopped)
position = store.positions.open_positions()[0]
print("ready", flush=True)
beat = 0
while True:
    store.engine.set(heartbeat_at=datetime.now(UTC))
    if beat % {monitor_every} == 0:  # a monitor tick: the mark price moves
        store.positions.update(position.id, mark_price=Decimal(98000 + beat), updated_at=datetime.now(UTC))
    beat += 1
    time.sleep({heartbeat})
"""

IDLE_CHILD = """
import sys, time, asyncio
sys.path.insert(0, {root!r})
from smt_tui.app import open_console
from smt_tui.state import ConsoleConfig
app = open_console({db!r}, config=ConsoleConfig(refresh_interval=0.3))
windows = []
def measure():
    app.cpu0 = (time.process_time(), time.perf_counter())
    app.set_timer({seconds}, done)
def done():
    cpu, wall = time.process_time() - app.cpu0[0], time.perf_counter() - app.cpu0[1]
    windows.append(cpu / wall * 100)
    print(f"{{windows[-1]:.3f}}", flush=True)
    if len(windows) < {windows}:
        measure()
    else:
        app.exit()
def settled():  # idle starts once the first full read is drawn (start-up is measured on its own)
    if app.first_paint is None:
        app.set_timer(0.1, settled)
    else:
        app.set_timer(2.0, measure)
app.call_later(settled)
app.run(headless=True, size=(160, 48))
"""


IDLE_WINDOWS = 3
"""Consecutive idle windows per console run; the figure is their median (one window swings with the load)."""


def measure_idle_cpu(db: Path, seconds: float, heartbeat: float, monitor_every: int) -> float:
    """The median of ``measure_idle_windows`` (bench/bench_year.py reports this figure)."""
    return statistics.median(measure_idle_windows(db, seconds, heartbeat, monitor_every))


def measure_idle_windows(db: Path, seconds: float, heartbeat: float, monitor_every: int) -> list[float]:
    """The console's CPU while an engine beats its heartbeat and its monitor moves a mark price: one
    figure per window of ``seconds``, consecutive, from 2 s after the first paint."""
    child = ENGINE_CHILD.format(root=str(ROOT), db=str(db), heartbeat=heartbeat, monitor_every=monitor_every)
    engine = subprocess.Popen(
        [sys.executable, "-c", child],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert engine.stdout is not None
        assert engine.stdout.readline().strip() == "ready"
        code = IDLE_CHILD.format(root=str(ROOT), db=str(db), seconds=seconds, windows=IDLE_WINDOWS)
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds * IDLE_WINDOWS + 60,
        )
    finally:
        engine.kill()
        engine.wait()
    return [float(line) for line in out.stdout.strip().splitlines()[-IDLE_WINDOWS:]]


DEMO_CONSOLE_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from smt_engine.demo import DEMO_FACTOR, DEMO_START, demo_settings
from smt_engine.demo_pace import Anchor, FollowedClock, pace_file
from smt_engine.domain import ApprovalMode
from smt_tui.app import open_console
from smt_tui.state import ConsoleConfig
db = Path({db!r})
settings = demo_settings(db, approval=ApprovalMode.MANUAL)
clock = FollowedClock(pace_file(db), Anchor(DEMO_START, {real_start!r}, DEMO_FACTOR))
app = open_console(db, config=ConsoleConfig.for_demo(settings), now=clock.now)
def measure():
    app.cpu0 = (time.process_time(), time.perf_counter())
    app.set_timer({seconds}, done)
def done():
    cpu, wall = time.process_time() - app.cpu0[0], time.perf_counter() - app.cpu0[1]
    print(f"{{cpu / wall * 100:.3f}}")
    app.exit()
app.call_later(lambda: app.set_timer(3.0, measure))
app.run(headless=True, size=(160, 48))
"""

DEMO_OPERATOR_APPROVES = 2
"""The bench's operator approves this many proposals (open positions to draw) and rejects the rest at once,
so the demo clock keeps running fast (it slows to real time while a proposal waits)."""


def measure_demo_cpu(seconds: float, *, leave_waiting: bool = False) -> dict[str, float]:
    """The console's CPU beside the real demo engine (synthetic market, paper venue) at full demo speed;
    with ``leave_waiting`` the operator decides nothing, so a proposal waits (toast, countdown, the demo
    clock slowed to real time) through the measurement."""
    from smt_engine.domain import CommandKind

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        Store.open(db).close()
        real_start = time.time()
        cmd = [sys.executable, "-m", "smt_engine.cli", "demo", "--engine-process", "--db", str(db)]
        cmd += ["--real-start", repr(real_start)]
        with (Path(tmp) / "engine.log").open("wb") as log:
            engine = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        operator = Store.open(db)
        try:
            while not EngineLock(db).is_held_elsewhere():
                assert engine.poll() is None, "the demo engine did not start"
                time.sleep(0.1)
            code = DEMO_CONSOLE_CHILD.format(
                root=str(ROOT), db=str(db), real_start=real_start, seconds=seconds
            )
            console = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
            decided: set[int] = set()
            waited = 0.0
            while console.poll() is None:
                for p in [] if leave_waiting else operator.proposals.pending():
                    if p.id is not None and p.id not in decided:
                        decided.add(p.id)
                        kind = (
                            CommandKind.APPROVE
                            if len(decided) <= DEMO_OPERATOR_APPROVES
                            else CommandKind.REJECT
                        )
                        operator.commands.enqueue(kind, datetime.now(UTC), "bench", {"proposal_id": p.id})
                if operator.proposals.pending():
                    waited += 0.1
                time.sleep(0.1)
            assert console.stdout is not None
            cpu = float(console.stdout.read().strip().splitlines()[-1])
            opened = len(operator.positions.select())
        finally:
            operator.close()
            engine.terminate()
            engine.wait()
    return {
        "demo_load_average_1m": round(os.getloadavg()[0], 2),
        "demo_idle_cpu_pct": cpu,
        "demo_seconds": seconds,
        "demo_positions_opened": opened,
        "demo_proposals_decided": len(decided),
        "demo_seconds_a_proposal_waited": round(waited, 1),
        "demo_operator_decides": not leave_waiting,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller database, fewer rounds")
    parser.add_argument(
        "--db", type=Path, help="measure a copy of this database instead (e.g. bench/year_db.py's year)"
    )
    parser.add_argument(
        "--demo-only", action="store_true", help="only the console's CPU beside the running demo engine"
    )
    parser.add_argument(
        "--demo-waiting",
        action="store_true",
        help="only the demo console's CPU while a proposal waits undecided (the demo clock at real time)",
    )
    parser.add_argument(
        "--empty-idle",
        action="store_true",
        help="only the idle CPU attached to an engine, on bench/year_db.py's empty database",
    )
    args = parser.parse_args()
    if args.empty_idle:
        return report_empty_idle(10 if args.quick else 30)
    if args.demo_only or args.demo_waiting:
        seconds = 30 if args.quick else 60
        return report_demo(measure_demo_cpu(seconds, leave_waiting=args.demo_waiting))
    closed, events = (1000, 10_000) if args.quick else (10_000, 100_000)
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        if args.db is not None:
            shutil.copyfile(args.db, db)
            source = Store.open(db, readonly=True)
            closed, events = source.positions.closed_count(), source.events.count()
            source.close()
        else:
            build_database(
                db,
                now_offset=datetime.now(UTC) - NOW - timedelta(seconds=1),
                closed_positions=closed,
                events=events,
            )
        build_s = time.perf_counter() - t0
        app_figures = asyncio.run(measure_app(db, rounds=10 if args.quick else 30))
        tick_figures = measure_ticks(db, rounds=50 if args.quick else 200)
        seconds = 10 if args.quick else 30
        # The engine's defaults: heartbeat every 5 s, monitor every 15 s; and the demo's pace (every second).
        idle_windows = measure_idle_windows(db, seconds, heartbeat=5.0, monitor_every=3)
        idle_windows_1s = measure_idle_windows(db, seconds, heartbeat=1.0, monitor_every=1)
        load_idle = os.getloadavg()
    demo = measure_demo_cpu(seconds * 2)
    results = {
        "database": {"closed_positions": closed, "events": events, "build_s": round(build_s, 1)},
        **demo,
        **{k: round(v, 2) for k, v in app_figures.items()},
        **{k: round(v, 3) for k, v in tick_figures.items()},
        "idle_cpu_pct": round(statistics.median(idle_windows), 2),
        "idle_cpu_pct_windows": [round(w, 2) for w in idle_windows],
        "idle_cpu_pct_heartbeat_1s": round(statistics.median(idle_windows_1s), 2),
        "idle_cpu_pct_heartbeat_1s_windows": [round(w, 2) for w in idle_windows_1s],
        "idle_window_s": seconds,
        "load_average_after_idle": load_idle,
        "load_average_start": load_start,
        "load_average": os.getloadavg(),
        "targets": TARGETS,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    rows = [
        ("start-up to first paint", f"{results['first_paint_ms']:.0f} ms", "-"),
        (
            "commit -> visible (p50 / p95 / max)",
            f"{results['commit_to_visible_ms_p50']:.0f} / {results['commit_to_visible_ms_p95']:.0f} / "
            f"{results['commit_to_visible_ms_max']:.0f} ms",
            "< 500 ms",
        ),
        ("idle tick (data_version + lock)", f"{results['idle_tick_ms_p50']:.3f} ms p50", "< 50 ms"),
        (
            "change tick: read (p50 / p95)",
            f"{results['change_tick_read_ms_p50']:.1f} / {results['change_tick_read_ms_p95']:.1f} ms",
            "< 50 ms",
        ),
        (
            "change tick: UI apply (p50 / max)",
            f"{results['ui_apply_ms_p50']:.1f} / {results['ui_apply_ms_max']:.1f} ms",
            "< 50 ms",
        ),
        (
            "tab switch keypress -> screen (p50 / max)",
            f"{results['tab_switch_ms_p50']:.0f} / {results['tab_switch_ms_max']:.0f} ms",
            "p50 <= 100 ms",
        ),
        ("tab switch: console CPU per switch", f"{results['tab_switch_cpu_ms']:.0f} ms", "-"),
        (
            f"idle CPU, engine attached (5 s / 15 s), median of {IDLE_WINDOWS} x {seconds} s",
            f"{results['idle_cpu_pct']:.2f} % of one core",
            "<= 0.5 %",
        ),
        (
            "idle CPU, engine writing every second",
            f"{results['idle_cpu_pct_heartbeat_1s']:.2f} % of one core",
            "-",
        ),
        (
            "idle CPU, demo console, demo clock running",
            f"{demo['demo_idle_cpu_pct']:.2f} % of one core",
            "< 2 %",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"console benchmark: {closed} closed positions, {events} events (built in {build_s:.1f} s)")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:<28} target {target}")
    out = ROOT / "bench" / "results" / ("console-db.json" if args.db else "console.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stamped(results), indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


def report_empty_idle(seconds: float) -> int:
    """The idle figure beside the one-year database's (issue 24: on both), on the same empty file as
    bench/bench_year.py: the year's first position and nothing else."""
    sys.path.insert(0, str(ROOT / "bench"))
    from year_db import END, build

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "empty.db"
        build(db, scale=0.0, end=END)
        windows = measure_idle_windows(db, seconds, heartbeat=5.0, monitor_every=3)
    results = {
        "idle_cpu_pct": round(statistics.median(windows), 2),
        "idle_cpu_pct_windows": [round(w, 2) for w in windows],
        "idle_window_s": seconds,
        "load_average_start": load_start,
        "load_average": os.getloadavg(),
        "target_pct": TARGETS["idle_cpu_pct"],
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    print(
        "console idle CPU on the empty database, engine attached (5 s / 15 s): "
        f"{results['idle_cpu_pct']:.2f} % of one core, median of {windows} (target <= 0.5 %)"
    )
    out = ROOT / "bench" / "results" / "console-empty-idle.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stamped(results), indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


def report_demo(demo: dict[str, float]) -> int:
    waiting = not demo["demo_operator_decides"]
    print(
        f"demo console CPU {'with a proposal waiting' if waiting else 'with the demo clock running'}: "
        f"{demo['demo_idle_cpu_pct']:.2f} % of one core (target < 2 %) over {demo['demo_seconds']:.0f} s, "
        f"{demo['demo_positions_opened']:.0f} position(s) opened, {demo['demo_proposals_decided']:.0f} "
        f"proposal(s) decided at once, a proposal waiting {demo['demo_seconds_a_proposal_waited']:.0f} s"
    )
    out = ROOT / "bench" / "results" / ("console-demo-waiting.json" if waiting else "console-demo.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(stamped({**demo, "target_pct": 2.0, "python": sys.version.split()[0]}), indent=2) + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
