from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smt_engine.domain import (
    CommandKind,
    CommandState,
    Contract,
    EngineState,
    EventLevel,
    Mode,
    OrderKind,
    OrderState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.secrets import register_secret
from smt_engine.store import AlreadyRunning, EngineLock, Store, StoreError, codec
from smt_engine.store.errors import DatabaseUnusable
from smt_engine.store.migrations import MIGRATIONS
from smt_engine.store.records import AccountSnapshot, EngineStatus, Order, Position
from tests.unit.trading.conftest import eth_position, eth_proposal

T0 = datetime(2026, 1, 12, 8, 0, tzinfo=UTC)

CONTRACT_TABLES = {
    "meta",
    "engine",
    "contracts",
    "account_snapshots",
    "whale_transfers",
    "whales",
    "whale_signals",
    "analyses",
    "proposals",
    "orders",
    "positions",
    "commands",
    "events",
    "ai_logs",
}


def test_migrations_from_empty_create_every_contract_table(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "smt.db")
    assert set(store.db.table_names()) >= CONTRACT_TABLES
    assert store.schema_version() == MIGRATIONS[-1][0]
    assert len(store.instance_id()) == 32
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    store.close()


def test_migrations_are_idempotent_and_keep_data(tmp_path: Path) -> None:
    path = tmp_path / "smt.db"
    first = Store.open(path)
    instance = first.instance_id()
    first.events.append(T0, EventLevel.INFO, "test", "kept")
    first.close()
    again = Store.open(path)
    assert again.migrate() == []
    assert again.instance_id() == instance
    assert [e.message for e in again.events.recent()] == ["kept"]
    again.close()


def test_database_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "smt.db"
    Store.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_readonly_open_refuses_writes_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "smt.db"
    with pytest.raises(StoreError, match="no database here"):
        Store.open(path, readonly=True)
    Store.open(path).close()
    ro = Store.open(path, readonly=True)
    assert ro.readonly
    with pytest.raises(Exception, match="readonly"):
        ro.events.append(T0, EventLevel.INFO, "x", "y")
    ro.close()


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    for readonly in (True, False):
        with pytest.raises(DatabaseUnusable, match=r"is another program's SQLite database \(tables: t\)"):
            Store.open(path, readonly=readonly)
    assert [r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")] == ["t"]


def test_an_empty_sqlite_file_is_not_read_as_an_smt_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(DatabaseUnusable, match="not an SMT database yet: run `smt db migrate`"):
        Store.open(path, readonly=True)
    assert Store.open(path).schema_version() > 0


decimals = st.decimals(
    allow_nan=False, allow_infinity=False, places=None, min_value=-(10**12), max_value=10**12
)


@settings(max_examples=150, deadline=None)
@given(balance=decimals, equity=decimals)
def test_decimal_round_trip_is_exact(
    tmp_path_factory: pytest.TempPathFactory, balance: Decimal, equity: Decimal
) -> None:
    store = _shared_store(tmp_path_factory)
    snap = store.account.insert(
        AccountSnapshot(at=T0, balance=balance, equity=equity, available=Decimal("0.00000001"))
    )
    back = store.account.get(snap.id)
    assert back is not None
    assert back.balance == balance
    assert str(back.balance) == str(balance)
    assert back.equity == equity
    assert back.available == Decimal("0.00000001")


def test_money_is_stored_as_text_with_every_digit(store: Store) -> None:
    snap = store.account.insert(
        AccountSnapshot(
            at=T0,
            balance=Decimal("1000.123456789012345678"),
            equity=Decimal("0.10"),
            available=Decimal("1E-8"),
        )
    )
    with store.account.lock:
        row = store.account.db.execute(
            "SELECT typeof(balance), balance, typeof(equity), equity FROM account_snapshots WHERE id = ?",
            [snap.id],
        ).fetchone()
    assert tuple(row) == ("text", "1000.123456789012345678", "text", "0.10")


_STORES: dict[str, Store] = {}


def _shared_store(factory: pytest.TempPathFactory) -> Store:
    if "s" not in _STORES:
        _STORES["s"] = Store.open(factory.mktemp("dec") / "smt.db")
    return _STORES["s"]


def test_non_finite_money_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        store.account.insert(
            AccountSnapshot(at=T0, balance=Decimal("NaN"), equity=Decimal(1), available=Decimal(1))
        )


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.events.append(datetime(2026, 1, 1), EventLevel.INFO, "x", "y")


def test_records_round_trip_with_enums_json_and_optional_fields(store: Store) -> None:
    store.engine.put(EngineStatus(mode=Mode.PAPER, state=EngineState.STARTING, pid=42, started_at=T0))
    store.engine.set(state=EngineState.RUNNING, heartbeat_at=T0 + timedelta(seconds=5))
    status = store.engine.current()
    assert status is not None
    assert status.state is EngineState.RUNNING
    assert status.pid == 42
    assert status.heartbeat_at == T0 + timedelta(seconds=5)

    store.contracts.save(
        Contract("DOGEUSDT", Decimal(100), Decimal("0.00001"), Decimal(100), None, Decimal(5), 50), T0
    )
    loaded = store.contracts.load("DOGEUSDT")
    assert loaded is not None
    assert loaded[0].step_size == Decimal(100)
    assert loaded[0].max_size is None

    pos = store.positions.insert(
        Position(
            symbol="SOLUSDT",
            side=Side.LONG,
            size=Decimal("0.7"),
            entry_price=Decimal("135.17"),
            opened_at=T0,
            state=PositionState.OPEN,
            leverage=20,
            updated_at=T0,
            tp_price=Decimal("141.93"),
        )
    )
    order = store.orders.insert(
        Order(
            client_order_id="smt-abc-p1-entry",
            symbol="SOLUSDT",
            side=Side.LONG,
            kind=OrderKind.ENTRY,
            size=Decimal("0.7"),
            state=OrderState.PENDING_SUBMIT,
            created_at=T0,
            updated_at=T0,
            position_id=pos.id,
            request={"quantity": "0.7", "nested": [1, {"a": Decimal("1.5")}]},
        )
    )
    store.orders.update(order.id, state=OrderState.SUBMITTED, exchange_order_id="704036529323901285")
    back = store.orders.by_client_id("smt-abc-p1-entry")
    assert back is not None
    assert back.state is OrderState.SUBMITTED
    assert back.request == {"quantity": "0.7", "nested": [1, {"a": "1.5"}]}
    assert store.orders.by_exchange_id("704036529323901285") == back
    assert [p.id for p in store.positions.open_positions()] == [pos.id]
    with pytest.raises(KeyError, match="no field"):
        store.orders.update(order.id, bogus=1)
    with pytest.raises(KeyError, match="no row"):
        store.orders.update(9999, state=OrderState.FILLED)


def test_one_open_position_per_symbol_and_side(store: Store) -> None:
    import sqlite3

    def pos(side: Side) -> Position:
        return Position(
            symbol="ETHUSDT",
            side=side,
            size=Decimal(1),
            entry_price=Decimal(3000),
            opened_at=T0,
            state=PositionState.OPEN,
            leverage=20,
            updated_at=T0,
        )

    store.positions.insert(pos(Side.LONG))
    store.positions.insert(pos(Side.SHORT))  # hedge mode: both sides may be open
    with pytest.raises(sqlite3.IntegrityError):
        store.positions.insert(pos(Side.LONG))


def test_client_order_ids_are_unique(store: Store) -> None:
    import sqlite3

    order = Order(
        client_order_id="dup",
        symbol="X",
        side=Side.LONG,
        kind=OrderKind.ENTRY,
        size=Decimal(1),
        state=OrderState.PENDING_SUBMIT,
        created_at=T0,
        updated_at=T0,
    )
    store.orders.insert(order)
    with pytest.raises(sqlite3.IntegrityError):
        store.orders.insert(order)


def test_command_queue_insert_claim_complete(store: Store) -> None:
    first = store.commands.enqueue(CommandKind.APPROVE, T0, "console:ana", {"proposal_id": 7})
    second = store.commands.enqueue(CommandKind.PAUSE, T0, "cli:root")
    assert first.state is CommandState.PENDING
    assert first.id is not None
    assert second.id is not None
    assert [c.id for c in store.commands.pending()] == [first.id, second.id]

    claimed = store.commands.claim_next(T0 + timedelta(seconds=1))
    assert claimed is not None
    assert claimed.id == first.id
    assert claimed.state is CommandState.RUNNING
    assert claimed.args == {"proposal_id": 7}
    assert claimed.claimed_at == T0 + timedelta(seconds=1)
    store.commands.complete(first.id, T0 + timedelta(seconds=2), {"position_id": 3})

    claimed2 = store.commands.claim_next(T0 + timedelta(seconds=3))
    assert claimed2 is not None
    assert claimed2.id == second.id
    store.commands.fail(second.id, T0 + timedelta(seconds=4), "engine is halted")
    assert store.commands.claim_next(T0) is None

    done = store.commands.get(first.id)
    failed = store.commands.get(second.id)
    assert done is not None
    assert done.state is CommandState.DONE
    assert done.result == {"position_id": 3}
    assert failed is not None
    assert failed.state is CommandState.FAILED
    assert failed.error == "engine is halted"


def test_a_command_is_claimed_once_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "smt.db"
    a, b = Store.open(path), Store.open(path)
    console = Store.open(path)
    for _ in range(20):
        console.commands.enqueue(CommandKind.RUN_CYCLE, T0, "console")
    claimed: list[int] = []
    for _ in range(15):
        for s in (a, b):
            c = s.commands.claim_next(T0)
            if c is not None and c.id is not None:
                claimed.append(c.id)
    assert sorted(claimed) == list(range(1, 21))
    for s in (a, b, console):
        s.close()


def test_commands_left_running_by_a_crash_are_failed_not_rerun(store: Store) -> None:
    store.commands.enqueue(CommandKind.CLOSE_ALL, T0, "console")
    store.commands.claim_next(T0)
    assert store.commands.requeue_running() == 1
    assert store.commands.claim_next(T0) is None


def test_data_version_moves_when_another_connection_commits(tmp_path: Path) -> None:
    path = tmp_path / "smt.db"
    engine, console = Store.open(path), Store.open(path, readonly=True)
    before = console.data_version()
    assert console.data_version() == before
    engine.events.append(T0, EventLevel.INFO, "x", "y")
    assert console.data_version() != before
    engine.close()
    console.close()


def test_single_writer_lock_names_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "smt.db"
    script = textwrap.dedent(
        f"""
        import sys, time
        from smt_engine.store import EngineLock
        lock = EngineLock({str(db)!r}); lock.acquire()
        print("held", flush=True)
        sys.stdin.readline()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        second = EngineLock(db)
        assert second.is_held_elsewhere()
        with pytest.raises(AlreadyRunning) as info:
            second.acquire()
        assert info.value.pid == holder.pid
        assert f"pid {holder.pid}" in str(info.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    # The kernel released the dead holder's lock: a new engine may start.
    with EngineLock(db) as lock:
        assert lock.holder_pid() == os.getpid()
    assert not EngineLock(db).is_held_elsewhere()


def test_two_connections_migrating_one_fresh_database_apply_each_migration_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fresh.db"
    first = Store(Store._connect(path, False), path, False)
    second = Store(Store._connect(path, False), path, False)
    real = first.schema_version
    raced: list[int] = []

    def version_then_race() -> int:
        seen = real()
        if not first.conn.in_transaction and not raced:
            raced.extend(second.migrate())  # the other process migrates between the read and the write
        return seen

    monkeypatch.setattr(first, "schema_version", version_then_race)
    try:
        applied = first.migrate()  # before the fix: "table ... already exists"
        assert sorted(applied + raced) == [number for number, _, _ in MIGRATIONS]  # each exactly once
        assert second.schema_version() == MIGRATIONS[-1][0]
    finally:
        first.close()
        second.close()


def test_waiting_proposals_and_closed_positions_are_counted_by_state(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "smt.db")
    for state in (ProposalState.PROPOSED, ProposalState.PROPOSED, ProposalState.REJECTED):
        store.proposals.insert(eth_proposal(state=state, created_at=T0))
    for symbol, state in (("ETHUSDT", PositionState.CLOSED), ("BTCUSDT", PositionState.OPEN)):
        store.positions.insert(eth_position(symbol=symbol, state=state, opened_at=T0, updated_at=T0))
    assert store.proposals.pending_count() == 2
    assert store.positions.closed_count() == 1
    store.close()


# --------------------------------------------------------------------------- the codec's exact conversions


@dataclass
class Sample:
    """One field of every kind a record holds, so each conversion is seen once."""

    id: int | None
    note: str | None
    amount: Decimal
    fee: Decimal | None
    at: datetime
    seen: datetime | None
    count: int
    flag: bool
    ratio: float
    side: Side
    data: dict[str, Any]
    tags: list[str]


SAMPLE = Sample(
    id=None,
    note="fine",
    amount=Decimal("0.70"),
    fee=Decimal("1E-8"),
    at=datetime(2026, 1, 12, 8, 0, 0, 123456, tzinfo=UTC),
    seen=None,
    count=3,
    flag=True,
    ratio=0.5,
    side=Side.SHORT,
    data={"b": [1, Decimal("2.50")], "a": {"when": T0}},
    tags=["x", "y"],
)
SAMPLE_ROW = {
    "note": "fine",
    "amount": "0.70",
    "fee": "1E-8",
    "at": "2026-01-12T08:00:00.123456Z",
    "seen": None,
    "count": 3,
    "flag": 1,
    "ratio": 0.5,
    "side": "SHORT",
    "data": '{"a": {"when": "2026-01-12T08:00:00.000000Z"}, "b": [1, "2.50"]}',
    "tags": '["x", "y"]',
}


@pytest.fixture
def fresh_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty per-type caches, so each conversion is decided in the test, not reused from an earlier one."""
    monkeypatch.setattr(codec, "_HINTS", {})
    monkeypatch.setattr(codec, "_PLANS", {})
    monkeypatch.setattr(codec, "_ENCODERS", {})


@pytest.mark.usefixtures("fresh_codec")
def test_a_record_becomes_a_row_of_text_money_utc_times_and_sorted_json() -> None:
    assert codec.to_row(SAMPLE) == SAMPLE_ROW
    assert codec.to_row(SAMPLE, skip_id=False) == {"id": None, **SAMPLE_ROW}
    assert codec.to_row(dataclasses.replace(SAMPLE, id=7)) == {"id": 7, **SAMPLE_ROW}


@pytest.mark.usefixtures("fresh_codec")
def test_a_row_reads_back_as_the_record_with_every_digit() -> None:
    back = codec.from_row(Sample, {"id": 7, **SAMPLE_ROW})
    assert back == dataclasses.replace(
        SAMPLE, id=7, data={"b": [1, "2.50"], "a": {"when": "2026-01-12T08:00:00.000000Z"}}
    )
    assert (str(back.amount), str(back.fee), back.flag, back.side) == ("0.70", "1E-8", True, Side.SHORT)
    assert back.at.tzinfo is UTC


@pytest.mark.usefixtures("fresh_codec")
def test_values_sqlite_hands_back_unconverted_are_still_read_exactly() -> None:
    """A number where text was stored (an aggregate, a REAL column) is read by its decimal spelling."""
    raw = {
        **SAMPLE_ROW,
        "amount": 0.1,
        "fee": 3,
        "data": {"k": 1},
        "tags": ["t"],
        "count": "4",
        "ratio": "0.25",
    }
    (back,) = codec.decode_rows(Sample, ["id", *raw], [(None, *{**raw, "flag": 0}.values())])
    assert (back.amount, back.fee, back.data, back.tags) == (Decimal("0.1"), Decimal(3), {"k": 1}, ["t"])
    assert (back.count, back.ratio, back.flag) == (4, 0.25, False)


@pytest.mark.usefixtures("fresh_codec")
def test_a_batch_leaves_the_id_to_the_database_unless_every_record_has_one() -> None:
    second = dataclasses.replace(SAMPLE, note=None, count=4)
    columns, params = codec.to_params([SAMPLE, second])
    assert columns == list(SAMPLE_ROW)
    assert params == [list(SAMPLE_ROW.values()), list({**SAMPLE_ROW, "note": None, "count": 4}.values())]
    columns, params = codec.to_params([dataclasses.replace(SAMPLE, id=7)])
    assert columns == ["id", *SAMPLE_ROW]
    assert params == [[7, *SAMPLE_ROW.values()]]


@dataclass
class Mark:
    """A record keyed by its own columns (as candles and whale history are), with no ``id`` field."""

    symbol: str
    price: Decimal


@pytest.mark.usefixtures("fresh_codec")
def test_a_batch_of_records_with_no_id_field_is_stored_column_for_column() -> None:
    assert codec.to_params([Mark("ETHUSDT", Decimal("2000.10"))]) == (
        ["symbol", "price"],
        [["ETHUSDT", "2000.10"]],
    )


@pytest.mark.usefixtures("fresh_codec")
def test_a_value_of_another_type_than_declared_takes_the_general_path() -> None:
    """An exchange id handed over as a number is stored as that number, not passed to the text masking."""
    register_secret("fake-codec-k3y")
    assert codec.to_row(dataclasses.replace(SAMPLE, note=704))["note"] == 704  # type: ignore[arg-type]


def test_partial_updates_store_money_as_text_and_json_with_sorted_keys() -> None:
    assert codec.encode_fields(Order, {"size": Decimal("0.70"), "request": {"b": T0, "a": 1}}) == {
        "size": "0.70",
        "request": '{"a": 1, "b": "2026-01-12T08:00:00.000000Z"}',
    }
    with pytest.raises(TypeError, match=r"^cannot store object as JSON$"):
        codec.encode_fields(Order, {"request": {"x": object()}})


def test_times_are_stored_in_utc_whatever_the_hosts_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "JST-9")  # a POSIX zone: no tzdata needed for the host to be 9 h ahead
    time.tzset()
    try:
        assert time.localtime(0).tm_gmtoff == 9 * 3600
        tokyo = datetime(2026, 1, 12, 17, 0, tzinfo=timezone(timedelta(hours=9)))
        assert codec.ts(tokyo) == "2026-01-12T08:00:00.000000Z"
    finally:
        monkeypatch.undo()
        time.tzset()
    with pytest.raises(ValueError, match=r"^naive datetime: every stored time must be timezone-aware UTC$"):
        codec.ts(datetime(2026, 1, 12))


def test_stored_times_and_their_looser_spellings_read_back_to_the_microsecond() -> None:
    assert codec.parse_ts("2026-01-12T08:00:00.123456Z") == datetime(2026, 1, 12, 8, 0, 0, 123456, tzinfo=UTC)
    assert codec.parse_ts("2026-01-12T8:0:0.5Z") == datetime(2026, 1, 12, 8, 0, 0, 500000, tzinfo=UTC)
