from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.cli.service import UNIT_NAME, render_unit
from smt_engine.exitcodes import NO_RESTART

SHIPPED = Path(__file__).resolve().parents[2] / UNIT_NAME

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
    assert "/home/" not in unit
    assert "{" not in unit.replace("${CONFIGURATION_DIRECTORY}", "")


def test_user_unit_drops_what_a_user_manager_cannot_do() -> None:
    unit = render_unit(user_mode=True, smt="/x/smt")
    assert "User=" not in unit
    assert "WantedBy=default.target" in unit
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
    assert float(score.group(1)) <= 2.5
    assert score.group(2) == "OK"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_shipped_unit_verifies_as_is() -> None:
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(SHIPPED)], capture_output=True, text=True, check=False
    )
    assert verify.returncode == 0, verify.stderr
    assert verify.stderr == ""


def test_shipped_unit_runs_the_documented_default_smt_as_the_smt_account() -> None:
    unit = SHIPPED.read_text(encoding="utf-8")
    assert re.search(r"^ExecStart=/usr/bin/env smt engine --config ", unit, re.M)
    assert re.search(r"^User=smt$", unit, re.M)
    assert re.search(r"^Group=smt$", unit, re.M)
    assert "/usr/local/bin/smt" in unit  # the documented default place for `smt` on systemd's PATH


def test_restart_is_prevented_for_exactly_the_exit_codes_a_restart_cannot_fix() -> None:
    for unit in (SHIPPED.read_text(encoding="utf-8"), render_unit(user_mode=True, smt="/x/smt")):
        line = re.search(r"^RestartPreventExitStatus=(.*)$", unit, re.M)
        assert line is not None
        assert sorted(int(c) for c in line.group(1).split()) == sorted(int(c) for c in NO_RESTART)


def test_install_renders_other_layouts_and_accounts() -> None:
    unit = render_unit(user_mode=False, service_user="trader", smt="/srv/smt/venv/bin/smt")
    assert re.search(r"^ExecStart=/srv/smt/venv/bin/smt engine --config ", unit, re.M)
    assert "/usr/bin/env" not in unit
    assert re.search(r"^User=trader$", unit, re.M)
    assert re.search(r"^Group=trader$", unit, re.M)
    assert not re.search(r"^User=smt$", unit, re.M)


def test_control_verbs_say_clearly_when_systemd_is_absent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("smt_engine.cli.service.systemd_running", lambda: False)
    assert main(["start"]) == 1
    assert "needs systemd, which is not running on this host" in capsys.readouterr().err
