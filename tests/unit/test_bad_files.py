"""Every bad file of issue 16 Why (6): one line naming the file, what is wrong and what to do, no
traceback, and the documented exit code (the ones in NO_RESTART keep systemd from spinning)."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.domain import EventLevel
from smt_engine.exitcodes import NO_RESTART, ExitCode
from smt_engine.store import Store
from smt_engine.store import db as store_db

AT = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)
QUIET = '[logging]\nlevel = "error"\n'


@pytest.fixture(autouse=True)
def fresh_logging() -> None:
    """Earlier `main()` calls leave a stderr handler bound to a closed capture stream."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)


def config_for(tmp: Path, database: Path | str, extra: str = "") -> Path:
    config = tmp / "config.toml"
    config.write_text(
        f'[engine]\nmode = "demo"\ndatabase = "{database}"\n[whales]\nenabled = false\n{extra}',
        encoding="utf-8",
    )
    return config


def good_db(path: Path, events: int = 2000) -> Path:
    store = Store.open(path)
    for i in range(events):
        store.events.append(AT, EventLevel.INFO, "filler", f"event {i} " * 6)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path


def text_file(path: Path) -> Path:
    path.write_text("these are my notes, not a database\n" * 50, encoding="utf-8")
    return path


def truncated(path: Path) -> Path:
    good_db(path)
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size // 3)
    return path


def damaged(path: Path) -> Path:
    """Garbage over a page of the events table's b-tree: the file opens, the integrity check fails.

    The page is found from the schema, not a fixed offset, so new tables cannot move it out of harm's way.
    """
    good_db(path)
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()
    conn.close()
    with path.open("r+b") as fh:
        fh.seek(page_size * (root - 1) + 100)
        fh.write(b"\xde\xad\xbe\xef" * 200)
    return path


def newer_schema(path: Path) -> Path:
    good_db(path, events=1)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    return path


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, lines
    return lines[0]


def foreign(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("CREATE TABLE tags (name TEXT)")
    conn.commit()
    conn.close()
    return path


DATABASES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "foreign": (foreign, "is another program's SQLite database (tables: notes, tags)", "choose another"),
    "text file": (text_file, "not a database file", "restore it from a backup"),
    "truncated": (truncated, "damaged", "restore the file from a backup"),
    "newer schema": (newer_schema, "schema version 99 is newer than this SMT", "upgrade SMT"),
}


@pytest.mark.parametrize("case", list(DATABASES))
@pytest.mark.parametrize(
    "command", [["engine"], ["status"], ["db", "check"], ["db", "migrate"], ["positions"]]
)
def test_a_bad_database_is_one_line_and_exit_4(
    case: str, command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, what, todo = DATABASES[case]
    db = make(tmp_path / "smt.db")
    before = db.read_bytes()
    assert main([*command, "--config", str(config_for(tmp_path, db))]) == ExitCode.DATABASE
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"{db}: ")
    assert what in line
    assert todo in line
    assert db.read_bytes() == before, "nothing is written to a database SMT cannot trust"


def test_a_damaged_page_stops_the_engine_at_start_and_db_check_lists_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = damaged(tmp_path / "smt.db")
    config = config_for(tmp_path, db)
    assert main(["engine", "--config", str(config)]) == ExitCode.DATABASE
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"{db}: the database is damaged")
    assert "restore the file from a backup" in line
    assert main(["db", "check", "--config", str(config)]) == ExitCode.DATABASE
    captured = capsys.readouterr()
    assert captured.out.strip(), "the problems are listed"
    assert one_line(captured.err).startswith(f"{db}: the database is damaged")


def test_db_check_on_a_sound_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = good_db(tmp_path / "smt.db", events=3)
    config = config_for(tmp_path, db)
    assert main(["db", "check", "--config", str(config)]) == ExitCode.OK
    assert "integrity check passed" in capsys.readouterr().out
    assert main(["db", "check", "--json", "--config", str(config)]) == ExitCode.OK
    assert '"ok": true' in capsys.readouterr().out


CONFIGS: dict[str, tuple[str, str]] = {
    "database is a directory": ('[engine]\ndatabase = "{tmp}"\n', "engine.database"),
    "database under /proc": ('[engine]\ndatabase = "/proc/smt.db"\n', "is under /proc"),
    "leverage = true": ("[risk]\nleverage = true\n", "risk.leverage = true: must be a number"),
    "a decimal = false": (
        "[risk]\nmin_confidence = false\n",
        "risk.min_confidence = false: must be a number",
    ),
    "max_hold = 0s": ('[risk]\nmax_hold = "0s"\n', "risk.max_hold = 0s: must be at least 1m"),
}


@pytest.mark.parametrize("case", list(CONFIGS))
@pytest.mark.parametrize("command", [["config", "check"], ["engine"]])
def test_a_bad_setting_is_one_line_naming_the_file_and_exit_2(
    case: str, command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body, expected = CONFIGS[case]
    config = tmp_path / "config.toml"
    config.write_text(body.format(tmp=tmp_path), encoding="utf-8")
    assert main([*command, "--config", str(config)]) == ExitCode.CONFIG
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"{config}: ")
    assert expected in line
    assert not (tmp_path.parent / f"{tmp_path.name}.lock").exists(), "no lock file beside a directory"


def test_a_non_utf8_configuration_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(b'[engine]\nmode = "paper"\n# caf\xe9 in Latin-1\n')
    assert main(["config", "check", "--config", str(config)]) == ExitCode.CONFIG
    line = one_line(capsys.readouterr().err)
    assert line == f"{config}: not UTF-8 text (byte 0xe9 on line 3): save the file as UTF-8"


def test_live_mode_without_keys_warns_in_check_and_the_engine_does_not_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("WEEX_API_KEY", "WEEX_API_SECRET", "WEEX_API_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("smt_engine.secrets.SecretStore._keyring_get", lambda self, name: None)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[engine]\nmode = "live"\ndatabase = "{tmp_path / "smt.db"}"\n{QUIET}', encoding="utf-8"
    )
    assert main(["config", "check", "--config", str(config)]) == ExitCode.FAILED
    assert "live mode needs weex_api_key, weex_api_secret, weex_api_passphrase" in capsys.readouterr().err
    assert main(["engine", "--config", str(config)]) == ExitCode.CONFIG
    line = one_line(capsys.readouterr().err)
    assert "live mode needs WEEX credentials" in line
    assert "smt keys set" in line


def test_a_full_disk_stops_the_running_engine_with_exit_5(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "data" / "smt.db"
    store = Store.open(db)  # migrated: the engine starts, then its first cycle fills the disk
    pages = int(store.conn.execute("PRAGMA page_count").fetchone()[0])
    store.close()
    connect = store_db.Store._connect

    def small_disk(path: Path, readonly: bool) -> sqlite3.Connection:
        conn = connect(path, readonly)
        conn.execute(
            f"PRAGMA max_page_count = {pages}"
        )  # no room to grow: SQLITE_FULL, as a full disk reports
        return conn

    monkeypatch.setattr(store_db.Store, "_connect", staticmethod(small_disk))
    config = config_for(tmp_path, db, '[logging]\nlevel = "error"\n')
    config.write_text(config.read_text().replace("[engine]\n", '[engine]\nheartbeat_interval = "1s"\n'))
    # Hang guard only: the engine handles SIGTERM by stopping cleanly, which would fail the exit-code check.
    guard = threading.Timer(300, os.kill, (os.getpid(), signal.SIGTERM))
    guard.start()
    try:
        code = main(["engine", "--config", str(config)])
    finally:
        guard.cancel()
    assert code == ExitCode.DISK_FULL
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"{db}: the disk is full")
    assert "free disk space" in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert any("database or disk is full" in line for line in err[:-1]), "failed writes were logged"


def test_the_engine_process_itself_prints_one_line_for_a_bad_database(tmp_path: Path) -> None:
    db = text_file(tmp_path / "smt.db")
    result = subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", "engine", "--config", str(config_for(tmp_path, db))],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == ExitCode.DATABASE
    assert ExitCode.DATABASE in NO_RESTART
    assert one_line(result.stderr).startswith(f"{db}: not a database file")
