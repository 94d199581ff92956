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
    assert result["order_posts"] > 0 and result["exercised"], "the engine sent no order: nothing was tested"
    assert all(count == 0 for count in result["checks"].values()), result
    assert result["clean"] and done.returncode == 0, done.stdout
