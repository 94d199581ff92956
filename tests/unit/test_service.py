from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from smt_engine.cli import main
from smt_engine.commands.service import render_unit

HARDENING = [
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "SystemCallFilter=@system-service",
    "MemoryMax=",
]


def test_system_unit_has_notify_watchdog_restart_limits_dirs_and_hardening() -> None:
    unit = render_unit(user_mode=False, smt="/opt/smt/.venv/bin/smt")
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "StartLimitBurst=",
        "User=smt",
        "StateDirectory=smt",
        "ConfigurationDirectory=smt",
        "LogsDirectory=smt",
        "LoadCredential=weex_api_key:",
        *HARDENING,
    ]:
        assert re.search(rf"^{re.escape(line)}", unit, re.M), line
    assert "ExecStart=/opt/smt/.venv/bin/smt engine --config ${CONFIGURATION_DIRECTORY}/config.toml" in unit
    assert "/home/" not in unit and "{" not in unit.replace("${CONFIGURATION_DIRECTORY}", "")


def test_user_unit_drops_what_a_user_manager_cannot_do() -> None:
    unit = render_unit(user_mode=True, smt="/x/smt")
    assert "User=" not in unit and "WantedBy=default.target" in unit
    assert not re.search(r"^LoadCredential=", unit, re.M)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_rendered_unit_verifies_and_scores_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "smt-trading.service"
    assert main(["service", "install", "--output", str(target)]) == 0
    assert "sudo systemctl daemon-reload" in capsys.readouterr().out
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(target)], capture_output=True, text=True, check=False
    )
    assert verify.returncode == 0, verify.stderr
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", security.stdout)
    assert score is not None, security.stdout[-500:]
    assert float(score.group(1)) <= 2.5 and score.group(2) == "OK"


def test_control_verbs_say_clearly_when_systemd_is_absent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("smt_engine.commands.service.systemd_running", lambda: False)
    assert main(["start"]) == 1
    assert "needs systemd, which is not running on this host" in capsys.readouterr().err
