"""`smt venue probe` refuses what it cannot do before it sends anything: no keys, bad options."""

from __future__ import annotations

from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.exitcodes import ExitCode


@pytest.fixture
def db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "smt.db"
    monkeypatch.setenv("SMT_ENGINE__DATABASE", str(db))
    monkeypatch.setenv("SMT_EXCHANGE__BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SMT_EXCHANGE__WS_URL", "ws://127.0.0.1:9")
    return db


def test_without_keys_it_names_them_and_exits_2(db_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["venue", "probe"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "missing: weex_api_key, weex_api_secret, weex_api_passphrase" in err
    assert not db_env.exists()  # nothing written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--distance", "80"], "--distance 80: give a percentage between 0.5 and 50"),
        (["--distance", "far"], "--distance far: give a percentage between 0.5 and 50"),
        (["--listen", "0"], "--listen: give at least 1 second"),
        (["--symbol", "PEPE"], "--symbol PEPEUSDT: not a traded pair"),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    args: list[str],
    message: str,
    db_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("WEEX_API_KEY", "WEEX_API_SECRET", "WEEX_API_PASSPHRASE"):
        monkeypatch.setenv(name, f"{name.lower()}-value")
    assert main(["venue", "probe", *args]) == ExitCode.CONFIG
    assert message in capsys.readouterr().err


def test_help_lists_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["venue", "probe", "--help"])
    text = capsys.readouterr().out
    for step in (
        "time",
        "contracts",
        "account",
        "stream.public",
        "stream.private",
        "order",
        "position",
        "ai_log",
    ):
        assert f"\n  {step} " in text
    for option in (
        "--listen",
        "--with-position",
        "--ai-log",
        "--symbol",
        "--distance",
        "--transcript",
        "--json",
    ):
        assert option in text
