"""Which code a benchmark figure was measured on: every raw JSON in ``bench/results`` carries it, so a
figure quoted in the docs can be traced to its commit (and to uncommitted changes, if any)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def code_version() -> dict[str, Any]:
    """The checkout's commit and whether tracked files differ from it; ``unknown`` outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": "unknown", "uncommitted_changes": None}
    return {"git_commit": commit, "uncommitted_changes": bool(changed)}


def stamped(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` with the code it was measured on, under ``code``."""
    return {**results, "code": code_version()}
