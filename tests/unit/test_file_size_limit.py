"""A file-size limit (EFBIG, errno 27) is the disk-full exit 5, which systemd does not restart, not a
generic failure (exit 1) that the unit would restart in a loop."""

from __future__ import annotations

import argparse
import errno
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from smt_engine.cli.context import Context, exit_code_for
from smt_engine.exitcodes import NO_RESTART, ExitCode

HANG_GUARD = 120.0  # real seconds; a guard against hangs, never a speed requirement


def run_limited(args: list[str], limit: int, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    def limit_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        preexec_fn=limit_size,  # a resource limit for the child only, set before exec
        cwd=tmp_path,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "smt.toml"
    path.write_text(f'[engine]\nmode = "demo"\ndatabase = "{tmp_path / "smt.db"}"\n')
    return path


def test_a_database_that_cannot_grow_past_the_limit_exits_5(config: Path, tmp_path: Path) -> None:
    done = run_limited(["db", "migrate", "--config", str(config)], 20 * 1024, tmp_path)
    assert done.returncode == ExitCode.DISK_FULL, done.stderr
    assert "the file-size limit of 20480 bytes was reached" in done.stderr
    assert "Traceback" not in done.stderr
    assert ExitCode.DISK_FULL in NO_RESTART


def test_an_engine_reaching_the_limit_stops_with_exit_5(config: Path, tmp_path: Path) -> None:
    done = run_limited(["engine", "--config", str(config)], 600 * 1024, tmp_path)
    assert done.returncode == ExitCode.DISK_FULL, done.stderr[-2000:]
    assert "the file-size limit of 614400 bytes was reached" in done.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (errno.EFBIG, "the file-size limit"),
        (errno.ENOSPC, "free disk space"),
        (errno.EDQUOT, "free disk space"),
    ],
)
def test_any_file_too_large_or_full_is_exit_5(code: int, text: str) -> None:
    ctx = Context(argparse.Namespace())
    known = ctx.explain(OSError(code, "no room", "/var/lib/smt/smt.paper-account.json"))
    assert exit_code_for(known) == ExitCode.DISK_FULL
    assert str(known).startswith("/var/lib/smt/smt.paper-account.json: ")
    assert text in str(known)
    assert exit_code_for(ctx.explain(OSError(errno.EACCES, "denied"))) is None  # other errors unchanged
