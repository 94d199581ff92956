"""Every benchmark's raw JSON names the code it measured (bench/provenance.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from provenance import code_version, stamped  # noqa: E402


def test_a_result_carries_the_checkouts_commit() -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode != 0:  # an export without git: the stamp says so instead of guessing
        assert code_version() == {"git_commit": "unknown", "uncommitted_changes": None}
        return
    result = stamped({"median_ms": 1.0})
    assert result["median_ms"] == 1.0
    assert result["code"]["git_commit"] == head.stdout.strip()
    assert isinstance(result["code"]["uncommitted_changes"], bool)


def test_every_bench_that_writes_json_stamps_it() -> None:
    for script in sorted((ROOT / "bench").glob("*.py")):
        text = script.read_text()
        if "indent=2" in text and "write_text" in text:  # a results file, not a config or a message
            assert "stamped(" in text, f"{script.name} writes results without the code's commit"
