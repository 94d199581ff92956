"""`smt ... | head`: a reader that goes away ends the command quietly, not as an internal error."""

from __future__ import annotations

import os
import subprocess
import sys

from smt_engine.exitcodes import ExitCode


def test_a_closed_output_pipe_exits_quietly_with_the_sigpipe_status() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write fails, deterministically
    try:
        result = subprocess.run(
            [sys.executable, "-m", "smt_engine.cli", "config", "reference"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env={**os.environ, "SMT_CONFIG": ""},
        )
    finally:
        os.close(write_end)
    assert result.returncode == ExitCode.BROKEN_PIPE == 141
    assert result.stderr == ""
