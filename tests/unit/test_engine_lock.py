"""One engine per database, whatever path reaches it: symlinks and relative paths find the same lock."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.store import AlreadyRunning, EngineLock


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A first engine (another process) holding the lock on ``<tmp>/data/smt.db``."""
    db = tmp_path / "data" / "smt.db"
    db.parent.mkdir()
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
        yield db, proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)


def test_a_symlink_to_the_database_is_refused_with_the_holders_pid(
    holder: tuple[Path, int], tmp_path: Path
) -> None:
    db, pid = holder
    link = tmp_path / "elsewhere.db"
    link.symlink_to(db)
    second = EngineLock(link)
    assert second.is_held_elsewhere()
    with pytest.raises(AlreadyRunning) as info:
        second.acquire()
    assert info.value.pid == pid and f"pid {pid}" in str(info.value)


def test_a_symlinked_directory_and_a_relative_path_are_refused(
    holder: tuple[Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, pid = holder
    linked_dir = tmp_path / "linked"
    linked_dir.symlink_to(db.parent, target_is_directory=True)
    with pytest.raises(AlreadyRunning):
        EngineLock(linked_dir / "smt.db").acquire()
    monkeypatch.chdir(db.parent)
    with pytest.raises(AlreadyRunning) as info:
        EngineLock(Path("smt.db")).acquire()
    assert info.value.pid == pid


def test_a_second_engine_command_through_a_symlink_exits_with_the_first_ones_pid(
    holder: tuple[Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, pid = holder
    link = tmp_path / "via-link.db"
    link.symlink_to(db)
    config = tmp_path / "config.toml"
    config.write_text(f'[engine]\nmode = "demo"\ndatabase = "{link}"\n')
    code = main(["engine", "--config", str(config)])
    assert code != 0
    err = capsys.readouterr().err
    assert f"pid {pid}" in err and "already running" in err
    assert os.path.realpath(link) == str(db)


def test_a_hard_link_to_the_database_is_refused_with_the_holders_pid(
    holder: tuple[Path, int], tmp_path: Path
) -> None:
    db, pid = holder
    link = tmp_path / "hard.db"
    os.link(db, link)  # another name for the same inode: its own, free, lock file
    second = EngineLock(link)
    assert second.is_held_elsewhere()
    with pytest.raises(AlreadyRunning) as info:
        second.acquire()
    assert info.value.pid == pid and f"pid {pid}" in str(info.value)
    assert second.probe() is True  # nothing of the refused attempt is left held


def test_a_deleted_lock_file_does_not_let_a_second_engine_in(holder: tuple[Path, int]) -> None:
    db, pid = holder
    db.with_name(db.name + ".lock").unlink()
    with pytest.raises(AlreadyRunning) as info:
        EngineLock(db).acquire()
    assert info.value.pid == pid


def test_a_viewer_can_read_the_database_while_the_engine_holds_it(holder: tuple[Path, int]) -> None:
    from smt_engine.store import Store

    db, _ = holder
    Store.open(db).close()  # the holder locks the file's inode with flock; SQLite's fcntl locks still work
    viewer = Store.open(db, readonly=True)
    try:
        assert viewer.schema_version() > 0
    finally:
        viewer.close()
    assert EngineLock(db).probe() is True
