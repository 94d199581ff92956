"""Headless demo speed: wall time of `smt demo --headless` for 120 and 720 simulated minutes (target from
the first version: 120 minutes in under 60 s), each run in its own process as an operator starts it."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MINUTES = (120, 720)
RUNS = 3
TARGET_120_S = 60.0


def one_run(minutes: int, db: Path) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    command = ["demo", "--headless", "--minutes", str(minutes), "--db", str(db), "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", *command],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    return wall, json.loads(done.stdout)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in MINUTES:
            walls = []
            summary: dict[str, object] = {}
            for i in range(RUNS):
                wall, summary = one_run(minutes, Path(tmp) / f"demo-{minutes}-{i}.db")
                walls.append(wall)
            rows.append(
                {
                    "simulated_minutes": minutes,
                    "runs": RUNS,
                    "wall_s_median": round(statistics.median(walls), 2),
                    "wall_s_max": round(max(walls), 2),
                    "cycles": summary.get("cycles"),
                }
            )
    result = {"name": "demo", "target_120_minutes_s": TARGET_120_S, "rows": rows}
    print(f"{'simulated minutes':>18} {'median s':>9} {'max s':>7} {'cycles':>7}")
    for r in rows:
        print(f"{r['simulated_minutes']:>18} {r['wall_s_median']:>9} {r['wall_s_max']:>7} {r['cycles']!s:>7}")
    out = Path(__file__).parent / "results" / "demo.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
