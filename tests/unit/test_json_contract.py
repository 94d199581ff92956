"""The scripting contract: every command with --json prints JSON on success and on error."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest

from smt_engine.cli.main import build_parser, main
from smt_engine.exitcodes import NO_RESTART, ExitCode
from smt_engine.secrets import register_secret
from smt_engine.store import Store


def json_commands() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        if any("--json" in action.option_strings for action in parser._actions):
            found.append(prefix)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return found


def only_json(out: str) -> Any:
    return json.loads(out)


def test_the_contract_covers_the_commands_that_have_json() -> None:
    assert {"status", "positions", "demo", "db check"} <= {" ".join(c) for c in json_commands()}


@pytest.mark.parametrize("command", json_commands(), ids=" ".join)
def test_an_error_is_one_json_object_with_the_exit_code(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.toml"
    try:
        code = main([*command, "--json", "--config", str(missing)])
    except SystemExit as exc:  # a command whose required arguments are missing: argparse's usage error
        code = int(exc.code or 0)
    assert code != ExitCode.OK
    captured = capsys.readouterr()
    body = only_json(captured.out)
    assert set(body) == {"error", "code"}
    assert body["code"] == code
    assert body["error"]


def test_a_config_error_names_the_file_in_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.toml"
    assert main(["status", "--json", "--config", str(missing)]) == ExitCode.CONFIG
    body = only_json(capsys.readouterr().out)
    assert str(missing) in body["error"]
    assert "smt init" in body["error"]


def test_status_without_a_database_says_not_running_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[engine]\ndatabase = "{tmp_path / "none.db"}"\n', encoding="utf-8")
    assert main(["status", "--json", "--config", str(config)]) == ExitCode.NOT_RUNNING
    body = only_json(capsys.readouterr().out)
    assert body["running"] is False
    assert body["state"] == "not running"
    assert not (tmp_path / "none.db").exists(), "status creates nothing"


def test_success_is_json_for_status_positions_and_db_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "smt.db"
    Store.open(db).close()
    config = tmp_path / "config.toml"
    config.write_text(f'[engine]\ndatabase = "{db}"\n', encoding="utf-8")
    assert main(["status", "--json", "--config", str(config)]) == ExitCode.NOT_RUNNING
    status = only_json(capsys.readouterr().out)
    assert status["running"] is False
    assert status["state"] == "never started"
    assert status["open_positions"] == 0
    assert main(["positions", "--json", "--config", str(config)]) == ExitCode.OK
    assert only_json(capsys.readouterr().out) == []
    assert main(["db", "check", "--json", "--config", str(config)]) == ExitCode.OK
    assert only_json(capsys.readouterr().out)["ok"] is True


@pytest.mark.parametrize("command", [["notify", "outbox"], ["whales", "flows"]], ids=" ".join)
def test_a_list_with_no_rows_is_one_empty_json_array(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "smt.db"
    Store.open(db).close()
    config = tmp_path / "config.toml"
    config.write_text(f'[engine]\ndatabase = "{db}"\n', encoding="utf-8")
    assert main([*command, "--json", "--config", str(config)]) == ExitCode.OK
    assert only_json(capsys.readouterr().out) == []


def test_db_check_finding_damage_answers_in_the_error_shape_with_the_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.test_bad_files import config_for, damaged

    db = damaged(tmp_path / "smt.db")
    assert main(["db", "check", "--json", "--config", str(config_for(tmp_path, db))]) == ExitCode.DATABASE
    body = only_json(capsys.readouterr().out)
    assert set(body) == {"error", "code", "problems"}
    assert body["code"] == ExitCode.DATABASE
    assert body["error"].startswith(f"{db}: the database is damaged")
    assert body["problems"]


def test_help_gives_status_its_real_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(exit {int(ExitCode.NOT_RUNNING)} when no engine runs)" in text


def test_the_operator_guide_lists_every_json_command() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operator-guide.md").read_text(encoding="utf-8")
    section = guide[guide.index("## 8. Scripts") :]
    listed = section[: section.index("|")]
    missing = [" ".join(c) for c in json_commands() if f"`smt {' '.join(c)}" not in listed]
    assert not missing, f"not listed in the operator guide's section 8: {missing}"


def test_the_operator_guide_documents_every_exit_code() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operator-guide.md").read_text(encoding="utf-8")
    section = guide[guide.index("## 8. Scripts") :]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", section, re.M)}
    assert documented == {int(code) for code in ExitCode}
    restart = re.search(r"RestartPreventExitStatus=([\d ]+)`", guide)
    assert restart is not None
    assert {int(c) for c in restart.group(1).split()} == {int(c) for c in NO_RESTART}


def test_a_bug_still_answers_in_json_with_code_70_and_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    register_secret("bug-canary-5e1f9a")

    def broken(ctx: object) -> int:
        raise RuntimeError("unexpected state near bug-canary-5e1f9a")

    monkeypatch.setattr("smt_engine.cli.engine.cmd_positions", broken)
    config = tmp_path / "config.toml"
    config.write_text(f'[engine]\ndatabase = "{tmp_path / "smt.db"}"\n', encoding="utf-8")
    assert main(["positions", "--json", "--config", str(config)]) == ExitCode.INTERNAL
    captured = capsys.readouterr()
    assert only_json(captured.out) == {
        "error": "internal error: RuntimeError: unexpected state near ***",
        "code": ExitCode.INTERNAL,
    }
    assert "Traceback" in captured.err
    assert "bug-canary-5e1f9a" not in captured.err + captured.out
