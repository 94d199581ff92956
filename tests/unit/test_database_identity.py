"""The database stays the engine's: the path is checked against the open file, and the engine's lock
survives the files being deleted or replaced under it."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from smt_engine.cli.context import VerbError, exit_code_for
from smt_engine.cli.main import main
from smt_engine.clock import SimulatedClock
from smt_engine.config import ConfigError, Settings
from smt_engine.domain import EventLevel
from smt_engine.engine import Engine
from smt_engine.exitcodes import NO_RESTART, ExitCode
from smt_engine.logsetup import EventsHandler
from smt_engine.notify.channels import parse_urls
from smt_engine.notify.notifier import Notifier
from smt_engine.store import AlreadyRunning, DatabaseFull, DatabaseUnusable, EngineLock, Store, StoreError
from smt_engine.store.identity import DatabaseIdentity, DatabaseSwapped
from tests.fakes.webhook_server import FakeWebhook
from tests.lock_support import engine_holding

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


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


def test_watch_keeps_the_file_it_opened(db: Path) -> None:
    identity = DatabaseIdentity.watch(db)
    assert identity is not None
    assert identity.path == db
    os.replace(db, db.with_name("moved.db"))
    assert identity.problem() == f"{db} no longer exists under that name (moved or renamed)"
    identity.close()


def test_a_file_that_cannot_be_watched_is_a_warning_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "missing.db"
    with caplog.at_level(logging.WARNING, logger="smt_engine.store.identity"):
        assert DatabaseIdentity.watch(missing) is None
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, f"database {missing} cannot be watched for replacement (No such file or directory)")
    ]


@pytest.fixture
def engine_store(db: Path) -> Iterator[Store]:
    """The engine's store with its events handler, as ``Engine.run`` installs it: what it logs with an
    ``event`` lands in the file it has open."""
    store = Store.open(db)
    handler = EventsHandler(store, SimulatedClock(T0))
    logging.getLogger().addHandler(handler)
    try:
        yield store
    finally:
        logging.getLogger().removeHandler(handler)
        store.close()


LOST = (
    "{db} was deleted while the engine had it open: the engine stops, as it would otherwise work on a "
    "file no operator command or status reads"
)


def test_a_file_still_in_place_lets_the_engine_go_on(
    db: Path, engine_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    identity = DatabaseIdentity(db)
    with caplog.at_level(logging.DEBUG, logger="smt_engine.store.identity"):
        identity.ensure()
    assert caplog.records == []
    assert engine_store.events.of_kind("engine.database_lost") == []
    identity.close()


def test_a_deleted_database_raises_a_critical_event_through_the_open_file_and_exits_4(
    db: Path, engine_store: Store
) -> None:
    identity = DatabaseIdentity(db)
    db.unlink()
    with pytest.raises(DatabaseSwapped) as stopped:
        identity.ensure()
    lost = LOST.format(db=db)
    assert str(stopped.value) == (
        f"{lost}; put the right database back at {db} (positions stay protected by their exchange-side "
        "stops meanwhile), then start the engine again"
    )
    (event,) = engine_store.events.of_kind("engine.database_lost")  # written to the unlinked file
    assert (event.level, event.message, event.data) == (EventLevel.CRITICAL, lost, {"path": str(db)})
    assert exit_code_for(stopped.value) is ExitCode.DATABASE == 4
    assert ExitCode.DATABASE in NO_RESTART  # systemd leaves it stopped: a restart cannot pick the file
    identity.close()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError(["risk.max_leverage must be positive"]), ExitCode.CONFIG),
        (AlreadyRunning(Path("smt.db"), 4242), ExitCode.ALREADY_RUNNING),
        (DatabaseFull("the disk holding smt.db is full"), ExitCode.DISK_FULL),
        (DatabaseUnusable("smt.db is not an SMT database"), ExitCode.DATABASE),
        (DatabaseSwapped("smt.db was deleted while the engine had it open"), ExitCode.DATABASE),
        (VerbError("no result in time", ExitCode.NO_RESULT), ExitCode.NO_RESULT),
        (VerbError("nothing to close"), ExitCode.FAILED),
        (StoreError("smt.db cannot be opened"), ExitCode.FAILED),
        (RuntimeError("a bug"), None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_each_error_an_operator_can_fix_exits_with_its_own_code_and_a_bug_raises(
    error: Exception, code: ExitCode | None
) -> None:
    """systemd leaves the engine stopped on codes 2 to 5 (``NO_RESTART``): a lost database must be 4."""
    assert exit_code_for(error) is code


async def test_the_database_lost_notice_goes_out_from_the_file_still_open(
    db: Path, engine_store: Store
) -> None:
    identity = DatabaseIdentity(db)
    backup = db.with_name("backup.db")
    Store.open(backup).close()
    with FakeWebhook() as hook:
        notifier = Notifier(Settings(), engine_store, SimulatedClock(T0), parse_urls(hook.json_url()))
        os.replace(backup, db)  # a backup restored over the running engine's file
        with pytest.raises(DatabaseSwapped):
            identity.ensure()
        await notifier.tick()
    (sent,) = hook.delivered
    assert sent.title == "SMT: engine STOPPED, its database file was removed or replaced"
    assert sent.message.startswith(LOST.format(db=db))
    assert sent.message.endswith("Put the right file back, then start the engine again.")


async def test_the_heartbeat_after_a_swap_stops_the_engine_and_writes_no_more_heartbeats(
    db: Path, engine_store: Store
) -> None:
    clock = SimulatedClock(T0)
    engine = Engine(
        Settings(),
        engine_store,
        clock,
        monitor=SimpleNamespace(exchange=SimpleNamespace(last_price=None)),
        cycle=None,
    )  # type: ignore[arg-type]
    engine._start_row()
    engine._identity = DatabaseIdentity.watch(db)
    beats = asyncio.create_task(engine._heartbeat_loop())
    await clock.advance(5)  # one heartbeat with the file in place
    row = engine_store.engine.current()
    assert row is not None
    assert row.heartbeat_at == T0.replace(second=5)
    os.unlink(db)
    await clock.advance(5)
    with pytest.raises(DatabaseSwapped):
        await beats
    row = engine_store.engine.current()
    assert row is not None
    assert row.heartbeat_at == T0.replace(second=5)
    assert len(engine_store.events.of_kind("engine.database_lost")) == 1


@pytest.fixture
def holder(db: Path) -> Iterator[int]:
    """A first engine (another process) holding the lock on ``db``."""
    with engine_holding(db) as pid:
        yield pid


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


def descriptors_on(path: Path) -> int:
    """How many of this process's descriptors name ``path``'s file."""
    fds = Path("/proc/self/fd")
    found = 0
    for fd in fds.iterdir():
        try:
            found += os.readlink(fd) == str(path)
        except OSError:
            continue
    return found


def test_a_closed_identity_holds_no_descriptor_and_checks_nothing_more(db: Path) -> None:
    before = descriptors_on(db)
    identity = DatabaseIdentity(db)
    assert descriptors_on(db) == before + 1  # the engine's own view of the file it opened
    identity.close()
    assert descriptors_on(db) == before
    identity.close()  # a second close is harmless
    db.unlink()
    assert identity.problem() is None  # closed at the engine's stop: a deletion then is no longer its concern
