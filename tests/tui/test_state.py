"""Read model: change detection, incremental events, liveness, and the console's import boundary."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.domain import EngineState, EventLevel, PositionState
from smt_engine.store import EngineLock, Store
from smt_engine.store.prices import PricePoint
from smt_tui.state import SECTIONS, ConsoleConfig, Liveness, ReadModel
from tests.tui.fixtures import NOW, Fixture

ROOT = Path(__file__).resolve().parents[2]


def test_poll_reads_only_when_another_connection_commits(fixture_db: Fixture) -> None:
    reader = Store.open(fixture_db.path, readonly=True)
    writer = Store.open(fixture_db.path)
    try:
        model = ReadModel(reader, now=lambda: NOW)
        first = model.poll()
        assert first is not None
        assert first.changed == frozenset(SECTIONS)
        assert {"history", "health", "limits"} <= first.changed
        assert len(first.events) == 5
        assert first.events[-1].level is EventLevel.CRITICAL
        assert model.poll() is None  # nothing committed: no read at all
        writer.events.append(NOW, EventLevel.INFO, "test", "hello")
        second = model.poll()
        assert second is not None
        assert second.changed == frozenset({"events"})
        assert [e.message for e in second.events[-2:]] == [first.events[-1].message, "hello"]
        writer.engine.set(state=EngineState.PAUSED)
        third = model.poll()
        assert third is not None
        assert third.changed == frozenset({"engine"})
    finally:
        reader.close()
        writer.close()


def test_poll_rereads_only_sections_whose_tables_were_written(fixture_db: Fixture) -> None:
    reader = Store.open(fixture_db.path, readonly=True)
    writer = Store.open(fixture_db.path)
    try:
        model = ReadModel(reader, now=lambda: NOW)
        first = model.poll()
        assert first is not None
        # A commit to a table no section shows (the scorecard's prices): nothing is read, nothing changes.
        writer.prices.insert(PricePoint(symbol="BTCUSDT", at=NOW, price=Decimal(1)))
        assert model.poll() is None
        # A monitor tick marks an open position: the open book moves, the closed history is not re-read.
        position = writer.positions.open_positions()[0]
        assert position.id is not None
        writer.positions.update(position.id, mark_price=Decimal("123.45"))
        second = model.poll()
        assert second is not None
        assert second.changed == frozenset({"positions"})
        assert second.history is first.history
        assert second.events is first.events
        # A position closing moves both the open book and the history.
        writer.positions.update(position.id, state=PositionState.CLOSED, closed_at=NOW)
        third = model.poll()
        assert third is not None
        assert {"positions", "history"} <= third.changed
        assert position.id in {p.id for p in third.history}
    finally:
        reader.close()
        writer.close()


def test_event_level_filter_reloads(fixture_db: Fixture) -> None:
    store = Store.open(fixture_db.path, readonly=True)
    try:
        model = ReadModel(store, now=lambda: NOW)
        model.poll()
        model.set_event_level(EventLevel.ERROR)
        snap = model.poll()
        assert snap is not None
        assert [e.level for e in snap.events] == [EventLevel.ERROR, EventLevel.CRITICAL]
    finally:
        store.close()


def test_liveness_from_lock_and_heartbeat(fixture_db: Fixture) -> None:
    store = Store.open(fixture_db.path, readonly=True)
    try:
        model = ReadModel(store, config=ConsoleConfig(stale_after=timedelta(seconds=15)), now=lambda: NOW)
        snap = model.poll()
        assert snap is not None
        assert snap.engine.liveness(NOW, timedelta(seconds=15)) is Liveness.NO_ENGINE
        with EngineLock(fixture_db.path):
            snap = model.poll()  # the lock moved: a new snapshot even without a commit
            assert snap is not None
            assert snap.engine.liveness(NOW, timedelta(seconds=15)) is Liveness.ALIVE
            assert snap.engine.liveness(NOW + timedelta(seconds=30), timedelta(seconds=15)) is Liveness.STALE
    finally:
        store.close()


def test_staleness_is_judged_by_the_heartbeat_the_engine_declares(fixture_db: Fixture) -> None:
    """A console configured for a 5 s heartbeat (stale after 15 s) attached to an engine that declares a
    60 s one calls it late only after three of the engine's beats; a declared cadence shorter than the
    console's never makes the alarm quicker than configured."""
    writer = Store.open(fixture_db.path)
    try:
        writer.engine.set(heartbeat_at=NOW, heartbeat_s=60.0)
    finally:
        writer.close()
    store = Store.open(fixture_db.path, readonly=True)
    try:
        model = ReadModel(store, config=ConsoleConfig(stale_after=timedelta(seconds=15)), now=lambda: NOW)
        with EngineLock(fixture_db.path):
            snap = model.poll()
            assert snap is not None
            fifteen = timedelta(seconds=15)
            assert snap.engine.liveness(NOW + timedelta(seconds=100), fifteen) is Liveness.ALIVE
            assert snap.engine.liveness(NOW + timedelta(seconds=179), fifteen) is Liveness.ALIVE
            assert snap.engine.liveness(NOW + timedelta(seconds=181), fifteen) is Liveness.STALE
            assert model.engine_running()
    finally:
        store.close()
    writer = Store.open(fixture_db.path)
    try:
        writer.engine.set(heartbeat_s=1.0)  # quicker than the console's: the console's 15 s stands
    finally:
        writer.close()
    store = Store.open(fixture_db.path, readonly=True)
    try:
        model = ReadModel(store, config=ConsoleConfig(stale_after=timedelta(seconds=15)), now=lambda: NOW)
        with EngineLock(fixture_db.path):
            snap = model.poll()
            assert snap is not None
            assert snap.engine.liveness(NOW + timedelta(seconds=10), timedelta(seconds=15)) is Liveness.ALIVE
            assert snap.engine.liveness(NOW + timedelta(seconds=16), timedelta(seconds=15)) is Liveness.STALE
    finally:
        store.close()


def test_console_imports_only_store_domain_config_and_the_command_contract() -> None:
    code = (
        "import sys, smt_tui.app, smt_tui.state\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('smt_engine'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
    ).stdout.split()
    allowed = ("smt_engine", "smt_engine.store", "smt_engine.domain", "smt_engine.config")
    # The command contract and its client, never the engine-side handlers (they reach the exchange).
    contract = {
        f"smt_engine.commands{m}"
        for m in ("", ".args", ".client", ".contract", ".errors", ".results", ".values")
    }
    # smt_engine.secrets comes in only through the store (its codec redacts what it writes).
    offenders = [
        m
        for m in out
        if m not in allowed
        and m not in contract
        and not m.startswith("smt_engine.store.")
        and m != "smt_engine.secrets"
    ]
    assert offenders == []
    assert "smt_engine.store" in out


def test_cli_refuses_a_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tui", "--db", str(tmp_path / "nope.db")])
    assert code == 1
    assert "no database here" in capsys.readouterr().err


def test_cli_rejects_a_bad_stale_after(fixture_db: Fixture, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tui", "--db", str(fixture_db.path), "--stale-after", "soon"])
    assert code == 1
    assert "--stale-after 'soon'" in capsys.readouterr().err


def test_unreadable_lock_takes_liveness_from_the_heartbeat(fixture_db: Fixture) -> None:
    """A viewer in another account cannot open the 0600 lock file: the heartbeat decides, not "no engine"."""
    store = Store.open(fixture_db.path, readonly=True)
    lock = EngineLock(fixture_db.path)
    lock.path.write_text("")

    class Unreadable(EngineLock):
        def probe(self) -> bool | None:
            return None

    try:
        model = ReadModel(store, now=lambda: NOW, lock=Unreadable(fixture_db.path))
        snap = model.poll()
        assert snap is not None
        assert snap.engine.lock_held is None
        assert snap.engine.liveness(NOW, timedelta(seconds=15)) is Liveness.ALIVE
        assert snap.engine.liveness(NOW + timedelta(minutes=5), timedelta(seconds=15)) is Liveness.NO_ENGINE
        assert model.engine_running()  # the heartbeat is fresh: a command would be consumed
    finally:
        store.close()


def test_probe_reports_an_unopenable_lock_as_unknown(
    fixture_db: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from smt_engine.store import lock as lock_module

    lock = EngineLock(fixture_db.path)
    lock.path.write_text("")
    assert lock.probe() is False

    def denied(path: object, flags: int, *args: object) -> int:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(lock_module.os, "open", denied)
    assert lock.probe() is None
    assert lock.is_held_elsewhere() is False
    assert os.open is denied


def test_an_unreadable_database_is_a_clear_message_not_a_traceback(
    fixture_db: Fixture, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from smt_engine.store.errors import database_error

    def refused(*args: object, **kwargs: object) -> Store:
        # What Store.open raises for a file this user may not read (root in CI can read anything).
        raise database_error(fixture_db.path, sqlite3.OperationalError("unable to open database file"))

    monkeypatch.setattr(Store, "open", refused)
    code = main(["tui", "--db", str(fixture_db.path), "--read-only"])
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot read the database (cannot open the database file" in err
    assert "Read-only viewers" in err
    assert "Traceback" not in err
