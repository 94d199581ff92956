"""Headless demo speed and pace: wall time of `smt demo --headless` for 120 and 1,440 simulated minutes, each
run in its own process as an operator starts it; and the wall time of every simulated hour of a 1,440-minute
run (the same engine on the same clock, timed hour by hour), so a demo that slows as its history grows shows
as late hours slower than early ones.

Targets (issue 24): 1,440 minutes in at most 60 s, the last hour no slower than 1.2x the first. The first
hour includes start-up (label set, classifier, whale history back-fill), so growth is also stated against a
fair baseline: the mean of hours 2-7 against the mean of hours 19-24, and the last hour against hour 2, in
wall and CPU time.

Run: PYTHONPATH=. python bench/bench_demo.py [--runs N]   (writes bench/results/demo.json)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from provenance import stamped  # bench/ is on the path when a bench runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smt_engine.clock import SimulatedClock  # noqa: E402
from smt_engine.demo import DEMO_START, demo_settings, run_engine  # noqa: E402
from smt_engine.domain import ApprovalMode  # noqa: E402
from smt_engine.store import Store  # noqa: E402

MINUTES = (120, 1440)
TARGET_1440_S = 60.0
TARGET_LAST_FIRST = 1.2
EARLY = (2, 7)
"""Hours (1-based, inclusive) of the baseline: after start-up."""
LATE = (19, 24)


def one_run(minutes: int, db: Path) -> tuple[float, float, dict[str, object]]:
    """Wall seconds, CPU seconds (user + system of the child) and the summary of one headless run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = ["demo", "--headless", "--minutes", str(minutes), "--db", str(db), "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", *command],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(done.stdout)


class HourlyClock(SimulatedClock):
    """The headless demo's clock, noting the wall and CPU time at which each simulated hour ends."""

    def __init__(self) -> None:
        super().__init__(DEMO_START)
        self.hour_ends: list[tuple[float, float]] = [(time.perf_counter(), time.process_time())]

    async def advance(self, seconds: float) -> None:
        await super().advance(seconds)
        if (self.now() - DEMO_START).total_seconds() >= 3600 * len(self.hour_ends):
            self.hour_ends.append((time.perf_counter(), time.process_time()))


def hourly(minutes: int, db: Path) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each simulated hour of one headless run of ``minutes``."""
    settings = demo_settings(db, approval=ApprovalMode.AUTO)
    store = Store.open(db)
    clock = HourlyClock()
    try:
        asyncio.run(run_engine(settings, store, clock, stop_after=minutes))
    finally:
        store.close()
    ends = clock.hour_ends
    walls = [round(b[0] - a[0], 3) for a, b in itertools.pairwise(ends)]
    cpus = [round(b[1] - a[1], 3) for a, b in itertools.pairwise(ends)]
    return walls, cpus


def mean_hours(values: list[float], hours: tuple[int, int]) -> float:
    """Mean of the 1-based, inclusive ``hours`` of ``values``."""
    return statistics.fmean(values[hours[0] - 1 : hours[1]])


def growth(values: list[float]) -> dict[str, float]:
    """Late hours against the baseline after start-up, and the last hour against the first and second."""
    early, late = mean_hours(values, EARLY), mean_hours(values, LATE)
    return {
        "early_mean_s": round(early, 3),
        "late_mean_s": round(late, 3),
        "late_over_early": round(late / early, 3),
        "last_over_first": round(values[-1] / values[0], 3),
        "last_over_second": round(values[-1] / values[1], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="runs per length (median reported)")
    args = parser.parse_args()
    started_utc = datetime.now(UTC).isoformat(timespec="seconds")
    load_start = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in MINUTES:
            walls, cpus = [], []
            summary: dict[str, object] = {}
            for i in range(args.runs):
                wall, cpu, summary = one_run(minutes, Path(tmp) / f"demo-{minutes}-{i}.db")
                walls.append(wall)
                cpus.append(cpu)
            rows.append(
                {
                    "simulated_minutes": minutes,
                    "runs": args.runs,
                    "wall_s_median": round(statistics.median(walls), 2),
                    "wall_s_max": round(max(walls), 2),
                    "cpu_s_median": round(statistics.median(cpus), 2),
                    "cycles": summary.get("cycles"),
                    "trades_opened": summary.get("trades_opened"),
                }
            )
        hours, hour_cpus = hourly(1440, Path(tmp) / "hourly.db")
    wall_growth, cpu_growth = growth(hours), growth(hour_cpus)
    result = {
        "name": "demo",
        "started_utc": started_utc,
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets": {"minutes_1440_s": TARGET_1440_S, "last_over_first": TARGET_LAST_FIRST},
        "rows": rows,
        "hourly_wall_s": hours,
        "hourly_cpu_s": hour_cpus,
        "baseline_hours": list(EARLY),
        "late_hours": list(LATE),
        "wall": wall_growth,
        "cpu": cpu_growth,
        "last_over_first": wall_growth["last_over_first"],
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    print(f"{'simulated minutes':>18} {'median s':>9} {'max s':>7} {'CPU s':>7} {'cycles':>7}")
    for r in rows:
        print(
            f"{r['simulated_minutes']:>18} {r['wall_s_median']:>9} {r['wall_s_max']:>7} "
            f"{r['cpu_s_median']:>7} {r['cycles']!s:>7}"
        )
    early, late = f"hours {EARLY[0]}-{EARLY[1]}", f"hours {LATE[0]}-{LATE[1]}"
    header = f"{'late/early':>10} {'last/2nd':>8} {'last/1st':>8}"
    print(f"{'per simulated hour':>18} {early:>11} {late:>12} {header}")
    for label, g in (("wall s", wall_growth), ("CPU s", cpu_growth)):
        print(
            f"{label:>18} {g['early_mean_s']:>11} {g['late_mean_s']:>12} {g['late_over_early']:>10} "
            f"{g['last_over_second']:>8} {g['last_over_first']:>8}"
        )
    print(f"last / first (wall) = {result['last_over_first']} (target <= {TARGET_LAST_FIRST})")
    print(f"load average {load_start} at the start, {result['load_average_end']} at the end")
    out = Path(__file__).parent / "results" / "demo.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(stamped(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
