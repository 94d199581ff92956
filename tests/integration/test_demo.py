"""`smt demo --headless`: the real engine on the demo venue, driven as fast as the machine allows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from smt_engine.domain import PositionState
from smt_engine.store import Store


def test_headless_demo_trades_and_its_summary_matches_the_database(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smt_engine.cli",
            "demo",
            "--headless",
            "--minutes",
            "120",
            "--json",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    for key in (
        "cycles",
        "proposals",
        "trades_opened",
        "trades_closed",
        "closes_by_reason",
        "final_equity",
        "database",
    ):
        assert key in summary
    assert summary["cycles"] >= 1
    assert summary["proposals"] >= 1
    assert summary["trades_closed"] >= 1
    # How fast the demo runs is the machine's business (a loaded CI host is slow), not a test's.
    assert isinstance(summary["wall_seconds"], int | float)
    assert summary["wall_seconds"] > 0
    store = Store.open(db, readonly=True)
    try:
        assert summary["database"] == str(db)
        assert summary["cycles"] == store.cycles.count()
        assert summary["proposals"] == store.proposals.count()
        closed = [p for p in store.positions.select() if p.state is PositionState.CLOSED]
        assert summary["trades_closed"] == len(closed)
        assert sum(summary["closes_by_reason"].values()) == len(closed)
        latest = store.account.latest()
        assert latest is not None
        assert summary["final_equity"] == str(latest.equity)
        # Every close is explained, and nothing is left without a stop on the venue's side.
        assert all(p.close_reason is not None for p in closed)
    finally:
        store.close()


def test_the_demo_refuses_to_reuse_a_database(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    db.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", "demo", "--headless", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only
        check=False,
    )
    assert result.returncode == 1
    assert "fresh database" in result.stderr
