"""The first `make demo` (or `make test`) says once that it is installing and how long that takes, and pip
then prints only errors: no warnings that are not the operator's to act on (issue 25)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_install_step_announces_itself_once_and_keeps_pip_quiet() -> None:
    planned = subprocess.run(
        ["make", "-n", "-B", ".venv/.installed"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    said = [line for line in planned if line.startswith("echo ")]
    assert len(said) == 2
    assert "Installing SMT" in said[0]
    assert "about a minute" in said[0]
    assert said[1] == 'echo "Installed."'
    installs = [line for line in planned if "pip install" in line]
    assert len(installs) == 2
    for line in installs:
        assert " -qq " in line, line  # errors only
        assert line.startswith("PIP_DISABLE_PIP_VERSION_CHECK=1 "), line  # no "new pip available" notice
        assert "--require-hashes" in line or "--no-deps" in line, line  # exactly the locked versions
