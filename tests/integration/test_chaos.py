"""The chaos bench's short version: a few SIGKILL trials of the real engine, every check at zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_few_sigkill_trials_leave_the_books_clean(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "chaos.py"),
            "--trials",
            "4",
            "--seed",
            "7",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only
        check=False,
    )
    assert out.exists(), done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["trials"] == 4
    assert result["order_posts"] > 0, "the engine sent no order: nothing was tested"
    assert result["exercised"], "the engine sent no order: nothing was tested"
    # Every check was made: a count of 0 from a check never made would prove nothing.
    for check in (
        "tp_sl_left_for_closed_positions",
        "legs_of_closed_positions",
        "books_contradict_venue",
        "duplicate_rows_per_venue_order",
        "positions_without_stop",
    ):
        assert check in result["checks"], check
    assert set(result["check_runs"]) == set(result["checks"])
    assert all(runs > 0 for runs in result["check_runs"].values()), result["check_runs"]
    assert all(count == 0 for count in result["checks"].values()), result
    assert set(result["windows"]) == {"entry", "tp_sl", "close", "orphan_cancel", "price"}
    assert set(result["price_moves"]) == {"sl", "tp", "while_engine_down"}
    assert result["clean"], done.stdout
    assert done.returncode == 0, done.stdout
