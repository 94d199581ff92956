"""One engine per database, whatever path reaches it: symlinks and relative paths find the same lock."""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smt_engine.cli.main import main
from smt_engine.store import AlreadyRunning, DatabaseUnusable, EngineLock
from smt_engine.store import lock as lock_module
from tests.lock_support import engine_holding


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A first engine (another process) holding the lock on ``<tmp>/data/smt.db``."""
    db = tmp_path / "data" / "smt.db"
    db.parent.mkdir()
    with engine_holding(db) as pid:
        yield db, pid


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
    assert info.value.pid == pid
    assert f"pid {pid}" in str(info.value)


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
    assert f"pid {pid}" in err
    assert "already running" in err
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
    assert info.value.pid == pid
    assert f"pid {pid}" in str(info.value)
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


# --------------------------------------------------------------------------- in this process
# flock locks belong to an open file description and abstract socket names to the kernel, so a second
# EngineLock in the same process meets the first exactly as a second engine would.


@pytest.fixture
def umask_022() -> Iterator[None]:
    """A common umask, under which a file created without an explicit mode would be world-readable."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_first_start_creates_the_directory_and_private_files_holding_its_pid(
    tmp_path: Path, umask_022: None
) -> None:
    db = tmp_path / "new" / "data" / "smt.db"
    lock = EngineLock(db)
    assert lock.path == db.with_name("smt.db.lock")
    lock.acquire()
    try:
        assert lock.path.read_text() == f"{os.getpid()}\n"
        assert lock.holder_pid() == os.getpid()
        assert stat.S_IMODE(lock.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(db.stat().st_mode) == 0o600  # the database holds the account's history
        assert lock_module._name_holder(db) == os.getpid()  # the socket name is bound too
        assert not lock.is_held_elsewhere()  # its own lock is not another engine
        with pytest.raises(AlreadyRunning) as info:
            EngineLock(db).acquire()
        assert info.value.pid == os.getpid()
    finally:
        lock.release()
    again = EngineLock(db)
    again.acquire()  # released: files and name are free
    again.release()


def test_a_stale_pid_in_the_lock_file_is_replaced_by_the_new_engines(tmp_path: Path) -> None:
    db = tmp_path / "smt.db"
    db.with_name("smt.db.lock").write_text("4242424242\n")  # left by an engine that died
    with EngineLock(db) as lock:
        assert lock.path.read_text() == f"{os.getpid()}\n"


def hold_lock_file(db: Path, content: str) -> int:
    """What an engine the socket name cannot reach holds (another network namespace sharing the disk,
    or a system without abstract sockets): the lock file's flock, with its pid written in it."""
    fd = os.open(db.with_name(db.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, content.encode())
    return fd


def test_a_held_lock_file_alone_refuses_a_second_engine_with_the_pid_it_names(tmp_path: Path) -> None:
    db = tmp_path / "smt.db"
    fd = hold_lock_file(db, "4242\n")
    try:
        with pytest.raises(AlreadyRunning) as info:
            EngineLock(db).acquire()
        assert info.value.pid == 4242
        assert str(info.value) == f"another SMT engine (pid 4242) is already running on {db}; stop it first"
        assert not lock_module._name_bound(db)  # the refused attempt gave its name back
    finally:
        os.close(fd)
    with EngineLock(db) as lock:  # and kept no descriptor of its own on the lock file
        assert lock.holder_pid() == os.getpid()


def test_a_held_lock_file_without_a_pid_is_refused_as_another_process(tmp_path: Path) -> None:
    db = tmp_path / "smt.db"
    fd = hold_lock_file(db, "")
    try:
        with pytest.raises(AlreadyRunning) as info:
            EngineLock(db).acquire()
        assert info.value.pid is None
        assert str(info.value) == (
            f"another SMT engine (another process) is already running on {db}; stop it first"
        )
    finally:
        os.close(fd)


def test_a_hard_link_held_in_this_process_names_the_path_and_the_pid(tmp_path: Path) -> None:
    db = tmp_path / "smt.db"
    link = tmp_path / "hard.db"
    with EngineLock(db):
        os.link(db, link)
        with pytest.raises(AlreadyRunning) as info:
            EngineLock(link).acquire()
        pid = os.getpid()
        assert (
            str(info.value) == f"another SMT engine (pid {pid}) is already running on {link}; stop it first"
        )
        assert not lock_module._name_bound(link)  # its name given back
    with EngineLock(link):  # and both its descriptors closed: the inode and the lock file are free
        pass


def test_a_lock_file_that_cannot_be_created_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    db = tmp_path / "file" / "smt.db"
    with pytest.raises(DatabaseUnusable) as info:
        EngineLock(db).acquire()
    assert str(info.value) == (
        f"{db}: cannot create its lock file {db}.lock (File exists): set engine.database to a file path "
        "on a writable disk"
    )
    assert not lock_module._name_bound(db)


def test_a_database_path_that_is_a_directory_is_refused_and_leaves_nothing_held(tmp_path: Path) -> None:
    db = tmp_path / "smt.db"
    db.mkdir()
    with pytest.raises(DatabaseUnusable) as info:
        EngineLock(db).acquire()
    assert str(info.value) == (
        f"{db}: cannot open the database file (Is a directory): set engine.database to a file path on a "
        "writable disk"
    )
    assert not lock_module._name_bound(db)
    fd = os.open(db.with_name("smt.db.lock"), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the lock file's descriptor was closed
    finally:
        os.close(fd)


@pytest.mark.parametrize("remove", ["database", "lock file", "database and lock file"])
def test_files_deleted_under_an_engine_still_refuse_a_second_one_with_its_pid(
    tmp_path: Path, remove: str
) -> None:
    db = tmp_path / "smt.db"
    with EngineLock(db) as first:
        if "database" in remove:
            db.unlink()
        if "lock" in remove:
            first.path.unlink()
        with pytest.raises(AlreadyRunning) as info:
            EngineLock(db).acquire()
        assert str(info.value) == (  # the pid from the database's flock, else the socket name's owner
            f"another SMT engine (pid {os.getpid()}) is already running on {db}; stop it first"
        )
        assert lock_module._name_holder(db) == os.getpid()
    assert lock_module._name_holder(db) is None
    assert not lock_module._name_bound(db)


def test_the_socket_name_is_the_one_every_engine_version_binds() -> None:
    """An engine of the previous version still running must stop an upgraded one, files gone or not:
    the abstract name is a contract between versions (``ss -xl`` shows it as ``@smt-engine:...``)."""
    name = lock_module._engine_name(Path("/srv/smt/smt.db"))
    assert name == "smt-engine:7b50282a96bb0a039d6b010642d39b1b"


def test_without_abstract_sockets_the_files_alone_keep_one_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lock_module.sys, "platform", "darwin")
    db = tmp_path / "smt.db"
    with EngineLock(db):
        assert not lock_module._name_bound(db)
        with pytest.raises(AlreadyRunning) as info:
            EngineLock(db).acquire()
        assert info.value.pid == os.getpid()


def hide_descriptors(monkeypatch: pytest.MonkeyPatch, *, but: int | None) -> None:
    """What an engine running as its own user meets: other processes' descriptors cannot be listed
    (every process's but ``but``'s)."""
    listdir = os.listdir
    readable = f"/proc/{but}/fd"

    def unreadable(path: str) -> list[str]:
        if path.startswith("/proc/") and path.endswith("/fd") and path != readable:
            raise PermissionError(13, "Permission denied", path)
        return listdir(path)

    monkeypatch.setattr(lock_module.os, "listdir", unreadable)


def test_the_socket_names_owner_is_found_past_processes_this_user_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "smt.db"
    with EngineLock(db) as first:
        first.path.unlink()
        db.unlink()
        hide_descriptors(monkeypatch, but=os.getpid())
        with pytest.raises(AlreadyRunning) as info:
            EngineLock(db).acquire()
    assert info.value.pid == os.getpid()


def test_the_lock_files_pid_names_the_engine_when_nothing_else_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "smt.db"
    with EngineLock(db):
        backup = tmp_path / "backup.db"
        backup.write_bytes(b"")
        os.replace(backup, db)  # the inode the engine locks is no longer at the path
        hide_descriptors(monkeypatch, but=None)  # and its descriptors cannot be read
        with pytest.raises(AlreadyRunning) as info:
            EngineLock(db).acquire()
    assert info.value.pid == os.getpid()  # the pid it wrote in its lock file


def test_the_databases_flock_names_the_engine_when_its_lock_file_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user's engine: its descriptors cannot be read, but the kernel's lock table can."""
    db = tmp_path / "smt.db"
    with EngineLock(db) as first:
        first.path.unlink()
        hide_descriptors(monkeypatch, but=None)
        with pytest.raises(AlreadyRunning) as info:
            EngineLock(db).acquire()
    assert info.value.pid == os.getpid()


def test_a_refused_lock_can_be_released_without_freeing_the_running_engines(tmp_path: Path) -> None:
    """``try: acquire() ... finally: release()`` is harmless when the acquire was refused."""
    db = tmp_path / "smt.db"
    with EngineLock(db):
        refused = EngineLock(db)
        with pytest.raises(AlreadyRunning):
            refused.acquire()
        refused.release()
        assert lock_module._name_holder(db) == os.getpid()
        with pytest.raises(AlreadyRunning):
            EngineLock(db).acquire()


# --------------------------------------------------------------------------- the console's probe


def test_a_lock_file_held_without_the_socket_name_probes_as_another_engines(tmp_path: Path) -> None:
    db = tmp_path / "smt.db"
    fd = hold_lock_file(db, "4242\n")
    try:
        probe = EngineLock(db)
        assert probe.probe() is True
        assert probe.is_held_elsewhere()
    finally:
        os.close(fd)
    assert EngineLock(db).probe() is False  # the probe's own descriptor was closed: nothing left held


def test_a_database_no_engine_ever_opened_probes_free(tmp_path: Path) -> None:
    db = tmp_path / "smt.db"
    probe = EngineLock(db)
    assert probe.probe() is False
    assert not probe.is_held_elsewhere()
    assert not db.exists()
    assert not probe.path.exists()  # probing creates nothing


def test_a_lock_file_this_user_cannot_open_probes_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only viewer in another account: liveness must come from the heartbeat instead."""
    db = tmp_path / "smt.db"
    with EngineLock(db):
        pass
    lock_file = str(db.with_name("smt.db.lock"))
    real_open = os.open

    def refused(path: object, *args: Any) -> int:
        if str(path) == lock_file:
            raise PermissionError(13, "Permission denied", lock_file)
        return real_open(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(lock_module.os, "open", refused)
    probe = EngineLock(db)
    assert probe.probe() is None
    assert not probe.is_held_elsewhere()


def test_a_hard_link_this_process_holds_is_not_another_engine(tmp_path: Path) -> None:
    db = tmp_path / "smt.db"
    link = tmp_path / "hard.db"
    with EngineLock(db):
        os.link(db, link)
        assert EngineLock(link).probe() is False  # the inode's flock is this process's own


def test_a_released_lock_can_be_released_again_and_taken_again(tmp_path: Path) -> None:
    """A ``with`` block may release early: the exit's second release is harmless, and the released object
    probes the database as any other would, without mistaking another engine's lock for its own."""
    db = tmp_path / "smt.db"
    lock = EngineLock(db)
    lock.acquire()
    lock.release()
    lock.release()
    assert lock.probe() is False
    assert not lock_module._name_bound(db)
    with EngineLock(db):
        assert lock.probe() is True
    with lock:  # the same object takes it again, files and name
        assert lock_module._name_holder(db) == os.getpid()
        assert lock.probe() is False  # its holder's own probe
        assert EngineLock(db).probe() is True
        with pytest.raises(AlreadyRunning):
            EngineLock(db).acquire()
    assert not lock_module._name_bound(db)
