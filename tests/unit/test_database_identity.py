"""The database stays the engine's: the path is checked against the open file, and the engine's lock
survives the files being deleted or replaced under it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.store import AlreadyRunning, EngineLock, Store
from smt_engine.store.identity import DatabaseIdentity


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "smt.db"
    Store.open(path).close()
    return path


def test_the_same_file_has_no_problem(db: Path) -> None:
    identity = DatabaseIdentity(db)
    assert identity.problem() is None
    identity.close()


def test_a_deleted_database_is_seen(db: Path) -> None:
    identity = DatabaseIdentity(db)
    db.unlink()
    assert identity.problem() == f"{db} was deleted while the engine had it open"


def test_a_backup_moved_over_it_is_seen(db: Path, tmp_path: Path) -> None:
    identity = DatabaseIdentity(db)
    backup = tmp_path / "backup.db"
    Store.open(backup).close()
    os.replace(backup, db)
    assert identity.problem() == f"{db} was deleted while the engine had it open"  # the old inode is gone


def test_a_file_renamed_away_is_seen_even_with_another_name_left(db: Path, tmp_path: Path) -> None:
    identity = DatabaseIdentity(db)
    os.link(db, tmp_path / "kept.db")  # the inode lives on under another name
    db.unlink()
    assert identity.problem() == f"{db} no longer exists under that name (moved or renamed)"
    Store.open(db).close()  # and a new file in its place is another file
    assert identity.problem() == f"{db} is now another file (replaced, e.g. a backup restored over it)"


@pytest.fixture
def holder(db: Path) -> Iterator[int]:
    """A first engine (another process) holding the lock on ``db``."""
    script = textwrap.dedent(
        f"""
        import sys
        from smt_engine.store import EngineLock
        lock = EngineLock({str(db)!r}); lock.acquire()
        print("held", flush=True)
        sys.stdin.readline()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)


@pytest.mark.parametrize("remove", ["database", "database and lock file", "lock file"])
def test_no_second_engine_while_one_holds_a_deleted_database(holder: int, db: Path, remove: str) -> None:
    lock_file = db.with_name(db.name + ".lock")
    if "database" in remove:
        db.unlink()
    if "lock" in remove:
        lock_file.unlink()
    second = EngineLock(db)
    assert second.is_held_elsewhere()
    with pytest.raises(AlreadyRunning) as refused:
        second.acquire()
    assert refused.value.pid == holder  # named, even with both files gone
    assert second.is_held_elsewhere()  # the refusal left nothing held


def test_the_name_is_free_again_once_the_engine_is_gone(db: Path) -> None:
    first = EngineLock(db)
    first.acquire()
    with pytest.raises(AlreadyRunning):
        EngineLock(db).acquire()
    first.release()
    again = EngineLock(db)
    assert not again.is_held_elsewhere()
    again.acquire()
    again.release()


def test_status_is_not_fooled_by_a_deleted_database(
    holder: int, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[engine]\nmode = "demo"\ndatabase = "{db}"\n')
    db.unlink()
    assert main(["status", "--config", str(config)]) == 4
    err = capsys.readouterr().err
    assert "the database file is gone while an engine still runs on it" in err
    assert not db.exists()  # status created no new, empty database in its place
