"""`smt test` / `smt run --once --test`: one full cycle on a paper venue with a throwaway database."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

from smt_engine.exitcodes import ExitCode


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


def test_smt_test_fails_when_the_exchange_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "smt.toml"
    config.write_text(
        f'[engine]\nmode = "paper"\n[exchange]\nbase_url = "http://127.0.0.1:{port}"\ntimeout = "2s"\n'
        '[pairs]\ntier1 = ["ETH"]\ntier2 = []\n[analyst]\nprovider = "heuristic"\n[whales]\nenabled = false\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", "test", "--config", str(config), "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == ExitCode.FAILED, result.stdout
    assert re.search(r"^  market\s+failed ", result.stdout, re.M), result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert "did not complete: market" in last
    assert "is the exchange reachable?" in last
    assert "Traceback" not in result.stderr
