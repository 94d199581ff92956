"""The database stays the engine's: deleting the database (or moving a backup over it) under a running
engine stops it within two heartbeats, with a CRITICAL event and a notification written through the file
it still has open, exit 4, and no second engine meanwhile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smt_engine.domain import EngineState, EventLevel
from smt_engine.exitcodes import ExitCode
from smt_engine.notify.rules import Rules
from smt_engine.store import AlreadyRunning, EngineLock, Store
from smt_engine.store.errors import StoreError
from smt_engine.store.identity import DatabaseSwapped
from tests.fakes.gemini_server import FakeGeminiServer
from tests.fakes.webhook_server import FakeWebhook
from tests.fakes.weex_server import FakeWeex
from tests.integration.rig import Rig

HANG_GUARD = 90.0  # real seconds; a guard against hangs on a loaded machine, never a speed requirement
HEARTBEAT_S = 5.0  # the rig's engine.heartbeat_interval (the default)


def running(store: Store) -> bool:
    row = store.engine.current()
    return row is not None and row.state is EngineState.RUNNING


@pytest.mark.parametrize("swap", ["delete", "backup moved over it"])
async def test_the_engine_stops_within_two_heartbeats(rig: Rig, tmp_path: Path, swap: str) -> None:
    await rig.start()
    await rig.until(lambda: running(rig.store), 120)
    db = tmp_path / "smt.db"
    if swap == "delete":
        db.unlink()
    else:
        backup = tmp_path / "backup.db"
        Store.open(backup).close()
        os.replace(backup, db)
    assert rig.task is not None
    await rig.until(rig.task.done, 2 * HEARTBEAT_S, step=0.5)  # simulated seconds: two heartbeats at most
    with pytest.raises(DatabaseSwapped, match="put the right database back at"):
        await rig.task
    (event,) = rig.store.events.of_kind("engine.database_lost")  # written to the file still open
    assert event.level is EventLevel.CRITICAL
    assert str(db) in event.message
    draft = Rules(rig.store, rig.settings()).draft(event, rig.clock.now())
    assert draft is not None
    assert draft.kind.value == "database_lost"
    assert rig.store.engine.current().state is EngineState.STOPPED  # type: ignore[union-attr]
    assert rig.runtime is not None
    await rig.runtime.aclose()
    rig.runtime = rig.task = None


@pytest.fixture
def venues() -> Iterator[tuple[FakeWeex, FakeGeminiServer, FakeWebhook]]:
    with FakeWeex() as weex, FakeGeminiServer() as gemini:
        hook = FakeWebhook().start()
        try:
            yield weex, gemini, hook
        finally:
            hook.stop()


def test_a_deleted_database_stops_a_real_engine_with_exit_4_and_a_notification(
    venues: tuple[FakeWeex, FakeGeminiServer, FakeWebhook], tmp_path: Path
) -> None:
    weex, gemini, hook = venues
    db = tmp_path / "smt.db"
    config = tmp_path / "smt.toml"
    config.write_text(
        f"""[engine]
mode = "paper"
database = "{db}"
heartbeat_interval = "1s"
[exchange]
base_url = "{weex.base_url}"
ws_url = "{weex.ws_url}"
streams = false
[analyst]
base_url = "{gemini.url}"
[pairs]
tier1 = ["ETH"]
tier2 = []
[whales]
enabled = false
[ailog]
enabled = false
[notify]
poll_interval = "1s"
"""
    )
    env = {
        **os.environ,
        "NOTIFY_URLS": hook.json_url(),
        "GEMINI_API_KEY": "gemini-test-key-123",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    log = tmp_path / "engine.log"
    with log.open("wb") as out:
        engine = subprocess.Popen(
            [sys.executable, "-m", "smt_engine.cli", "engine", "--config", str(config)],
            stdout=out,
            stderr=out,
            env=env,
        )
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not started(db):
            assert engine.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the engine did not start"
            time.sleep(0.1)
        # Frozen (SIGSTOP) so its next heartbeat cannot come before the second engine has tried: the
        # "meanwhile" is then as long as the test needs, on any machine.
        engine.send_signal(signal.SIGSTOP)
        try:
            db.unlink()
            db.with_name(db.name + ".lock").unlink()  # both files gone: only the kernel remembers it
            with pytest.raises(AlreadyRunning) as refused:
                EngineLock(db).acquire()
            assert refused.value.pid == engine.pid
            second = subprocess.run(
                [sys.executable, "-m", "smt_engine.cli", "engine", "--config", str(config)],
                env=env,
                capture_output=True,
                text=True,
                timeout=HANG_GUARD,
            )
            assert second.returncode == ExitCode.ALREADY_RUNNING, second.stderr
            assert f"pid {engine.pid}" in second.stderr
            assert not db.exists()  # the refused engine created no database of its own
        finally:
            engine.send_signal(signal.SIGCONT)
        assert code_of(engine) == ExitCode.DATABASE, log.read_text()
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait(timeout=30)
    text = log.read_text()
    assert "was deleted while the engine had it open" in text
    assert "Traceback" not in text  # one line naming the file and the fix, not a crash
    titles = [d.title for d in hook.delivered]
    assert "SMT: engine STOPPED, its database file was removed or replaced" in titles, titles
    lost = next(d for d in hook.delivered if "database file was removed" in d.title)
    assert str(db) in lost.message


def started(db: Path) -> bool:
    """The engine's row says running (a database still being created is not started yet)."""
    try:
        store = Store.open(db, readonly=True)
    except StoreError:
        return False
    try:
        return running(store)
    finally:
        store.close()


def code_of(proc: subprocess.Popen[bytes]) -> int:
    return proc.wait(timeout=HANG_GUARD)
