"""`smt test` / `smt run --once --test`: one full cycle on a paper venue with a throwaway database."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_one_paper_cycle_executes_the_best_proposal(tmp_path: Path) -> None:
    config = tmp_path / "smt.toml"
    config.write_text('[engine]\nmode = "demo"\n\n[analyst]\nprovider = "heuristic"\n')
    result = subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", "test", "--config", str(config), "--log-level", "warning"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    proposals = re.findall(r"proposal #\d+ \w+ (LONG|SHORT) (\w+):", result.stdout)
    assert proposals, result.stdout
    states = [state for _, state in proposals]
    # The cycle's gating and its execution see the same engine state: the best proposal opens.
    assert states.count("open") == 1, result.stdout
    assert "engine_state" not in result.stdout
