from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from smt_engine.cli.main import build_parser, main


def _subcommand_paths() -> list[list[str]]:
    import argparse

    paths: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    paths.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return paths


@pytest.mark.parametrize("path", [[], *_subcommand_paths()], ids=lambda p: " ".join(p) or "smt")
def test_every_command_has_help(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*path, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: smt")


def test_init_then_check_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "conf" / "smt.toml"
    assert main(["init", "--config", str(config)]) == 0
    assert config.stat().st_mode & 0o077 == 0
    assert main(["config", "check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"configuration OK: {config}" in out
    assert "max_leverage = 20" in out
    assert "weex_api_key = unset" in out
    # The printed effective settings are themselves valid TOML (minus the comment header and secrets).
    body = out.split("\n", 2)[2].split("[secrets]")[0]
    assert (
        tomllib.loads(body.replace('"(unset)"', '""').replace("(unset)", '""'))["risk"]["max_leverage"] == 20
    )


def test_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "smt.toml"
    config.write_text("# mine\n")
    assert main(["init", "--config", str(config)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert config.read_text() == "# mine\n"


def test_bad_config_exits_2_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "smt.toml"
    config.write_text("[risk]\nmax_leverage = 150\nmax_open_positions = 0\n")
    assert main(["--config", str(config), "config", "check"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"configuration errors in {config}:"
    assert "  risk.max_leverage = 150: must be at least 1 and at most 125" in err
    assert "  risk.max_open_positions = 0: must be at least 1 and at most 50" in err


def test_live_mode_without_keys_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "smt.toml"
    config.write_text('[engine]\nmode = "live"\n')
    assert main(["config", "check", "--config", str(config)]) == 1
    assert "live mode needs weex_api_key" in capsys.readouterr().err


def test_keys_set_reads_stdin_and_reports_unavailable_keyring(capsys: pytest.CaptureFixture[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", "keys", "set", "gemini_api_key"],
        input="gem-value-1234\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "cannot store gemini_api_key in the OS keyring" in result.stderr
    assert "GEMINI_API_KEY" in result.stderr
    assert "gem-value-1234" not in result.stderr + result.stdout


def test_db_migrate_creates_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "smt.toml"
    db = tmp_path / "data" / "smt.db"
    config.write_text(f'[engine]\ndatabase = "{db}"\n')
    assert main(["db", "migrate", "--config", str(config)]) == 0
    from smt_engine.store.migrations import MIGRATIONS

    assert db.exists()
    assert f"schema version {MIGRATIONS[-1][0]}" in capsys.readouterr().out
