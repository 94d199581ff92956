"""Per-tick reads bounded by an index or a kept aggregate (migration 12); the codec decides per column."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.config import Settings
from smt_engine.domain import (
    CloseReason,
    EventLevel,
    OrderKind,
    OrderState,
    PositionState,
    Side,
)
from smt_engine.store import Store
from smt_engine.store.codec import decode_rows, from_row, parse_ts, to_params, to_row, ts
from smt_engine.store.db import _statements
from smt_engine.store.kill_switch import KillSwitchReset
from smt_engine.store.prices import PricePoint
from smt_engine.store.records import AccountSnapshot, Order, Position
from smt_engine.store.retention import table_sizes

T0 = datetime(2026, 3, 1, tzinfo=UTC)
D = Decimal


def snap(store: Store, minutes: int, equity: str) -> None:
    e = D(equity)
    store.account.insert(
        AccountSnapshot(at=T0 + timedelta(minutes=minutes), balance=e, equity=e, available=e)
    )


def plan(store: Store, sql: str, params: list[object]) -> str:
    return " | ".join(str(r[3]) for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def test_peak_equity_is_kept_as_snapshots_arrive(store: Store) -> None:
    assert store.account.peak_equity() is None
    for minute, equity in enumerate(["100", "99.5", "120.25", "119", "9.99"]):
        snap(store, minute, equity)
    peak = store.account.peak_equity()
    assert peak is not None
    assert peak.equity == D("120.25")


def test_peak_since_the_last_reset(store: Store) -> None:
    snap(store, 0, "150")
    snap(store, 1, "100")
    reset_at = T0 + timedelta(minutes=2)
    store.kill_switch.insert(KillSwitchReset(at=reset_at, actor="op", cleared="drawdown", equity=D(100)))
    assert store.account.peak_equity(reset_at) is None  # nothing since the reset yet
    snap(store, 3, "105")
    snap(store, 4, "104")
    since = store.account.peak_equity(reset_at)
    assert since is not None
    assert since.equity == D(105)
    overall = store.account.peak_equity()
    assert overall is not None
    assert overall.equity == D(150)
    other = store.account.peak_equity(T0 + timedelta(minutes=4))  # any other start: a range read
    assert other is not None
    assert other.equity == D(104)


def test_peak_read_does_not_scan_the_snapshots(store: Store) -> None:
    for minute in range(50):
        snap(store, minute, str(100 + minute % 7))
    with store.lock:
        calls: list[str] = []
        store.conn.set_trace_callback(calls.append)
        try:
            store.account.peak_equity()
        finally:
            store.conn.set_trace_callback(None)
    assert not any("CAST(equity" in sql for sql in calls), calls


def test_last_stop_losses_per_symbol(store: Store) -> None:
    def closed(symbol: str, minutes: int, reason: CloseReason) -> None:
        at = T0 + timedelta(minutes=minutes)
        store.positions.insert(
            Position(
                symbol=symbol,
                side=Side.LONG,
                size=D(1),
                entry_price=D(10),
                opened_at=at - timedelta(minutes=1),
                state=PositionState.CLOSED,
                leverage=5,
                updated_at=at,
                close_reason=reason,
                closed_at=at,
            )
        )

    closed("BTCUSDT", 1, CloseReason.STOP_LOSS)
    closed("BTCUSDT", 5, CloseReason.STOP_LOSS)
    closed("BTCUSDT", 9, CloseReason.TAKE_PROFIT)
    closed("ETHUSDT", 3, CloseReason.STOP_LOSS)
    closed("SOLUSDT", 4, CloseReason.MANUAL)
    assert store.positions.last_stop_losses() == {
        "BTCUSDT": T0 + timedelta(minutes=5),
        "ETHUSDT": T0 + timedelta(minutes=3),
    }


def test_per_tick_queries_use_indexes(store: Store) -> None:
    orders = plan(store, "SELECT * FROM orders WHERE position_id = ? ORDER BY id", [1])
    assert "orders_position" in orders
    open_positions = plan(store, "SELECT * FROM positions WHERE state != 'closed' ORDER BY opened_at", [])
    assert "positions_one_open" in open_positions
    stops = plan(
        store,
        "SELECT max(closed_at) FROM positions WHERE close_reason = ? AND symbol = ?",
        ["stop-loss", "BTCUSDT"],
    )
    assert "positions_stop" in stops
    analyses = plan(store, "SELECT * FROM analyses WHERE created_at >= ?", [ts(T0)])
    assert "analyses_created" in analyses


def test_table_changes_count_watched_writes_only(store: Store) -> None:
    before = store.table_changes()
    assert before is not None
    store.events.append(T0, EventLevel.INFO, "t", "one")
    store.prices.insert(PricePoint(symbol="BTCUSDT", at=T0, price=D(1)))  # not a console table
    after = store.table_changes()
    assert after is not None
    moved = {name for name in after if after[name] != before[name]}
    assert moved == {"events"}


def test_closed_counter_moves_only_for_closed_rows(store: Store) -> None:
    def closed_counter() -> int:
        counters = store.table_changes()
        assert counters is not None
        return counters["positions.closed"]

    position = store.positions.insert(
        Position(
            symbol="BTCUSDT",
            side=Side.LONG,
            size=D(1),
            entry_price=D(10),
            opened_at=T0,
            state=PositionState.OPEN,
            leverage=5,
            updated_at=T0,
        )
    )
    start = closed_counter()
    store.positions.update(position.id, mark_price=D(11))  # a monitor tick on an open position
    assert closed_counter() == start
    store.positions.update(position.id, state=PositionState.CLOSED, closed_at=T0)
    assert closed_counter() == start + 1


def test_write_many_counts_new_rows_not_trigger_writes(store: Store) -> None:
    rows = [
        Order(
            client_order_id=f"c{i}",
            symbol="BTCUSDT",
            side=Side.LONG,
            kind=OrderKind.ENTRY,
            size=D(1),
            state=OrderState.FILLED,
            created_at=T0,
            updated_at=T0,
        )
        for i in range(3)
    ]
    assert store.orders.write_many(rows) == 3
    assert store.orders.write_many(rows) == 0  # duplicates of a unique client id are ignored
    assert store.orders.count() == 3


def test_migration_statements_keep_trigger_bodies_whole() -> None:
    script = """
CREATE TABLE a (x INTEGER);
CREATE TRIGGER t AFTER INSERT ON a BEGIN
    UPDATE a SET x = 1;
    UPDATE a SET x = 2;
END;
CREATE INDEX a_x ON a(x);
"""
    statements = _statements(script)
    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER")
    assert statements[1].endswith("END")


def test_decoding_by_column_plan_matches_by_name() -> None:
    position = Position(
        symbol="BTCUSDT",
        side=Side.SHORT,
        size=D("0.010"),
        entry_price=D("97000.5"),
        opened_at=T0,
        state=PositionState.CLOSED,
        leverage=7,
        updated_at=T0 + timedelta(microseconds=7),
        close_reason=CloseReason.STOP_LOSS,
        adopted=True,
        id=4,
    )
    row = to_row(position)
    columns, params = to_params([position])
    assert dict(zip(columns, params[0], strict=True)) == row
    assert from_row(Position, row) == position
    assert decode_rows(Position, list(reversed(columns)), [list(reversed(params[0]))]) == [position]


@pytest.mark.parametrize(
    "text",
    ["2026-03-01T00:00:00.000000Z", "2026-03-01T23:59:59.999999Z", "0001-01-01T00:00:00.000000Z"],
)
def test_timestamps_round_trip_fixed_width(text: str) -> None:
    value = parse_ts(text)
    assert value.tzinfo is UTC
    assert ts(value) == text
    assert len(ts(value)) == 27


def test_timestamp_parse_rejects_other_forms() -> None:
    with pytest.raises(ValueError, match="does not match format"):
        parse_ts("2026-03-01 00:00:00")


def test_retention_keeps_the_last_snapshot_of_each_hour_after_a_day(store: Store) -> None:
    from smt_engine.store.retention import Retention, thin_snapshots
    from smt_engine.trading.kill_switch import loss_references

    for minute in range(0, 3 * 24 * 60, 15):  # three days, one snapshot every 15 minutes
        snap(store, minute, "500" if minute == 30 * 15 else str(100 + minute % 60 / 100))
    now = T0 + timedelta(days=3)
    settings = Settings()
    day2 = T0 + timedelta(days=2)
    opening_before = store.account.last_before(day2)
    removed, caught_up = thin_snapshots(store, now)
    assert caught_up
    assert removed > 0
    old = [s for s in store.account.select(order_by="id") if s.at < now - timedelta(days=1)]
    hours = [s.at.replace(minute=0) for s in old if s.equity != D(500)]
    assert len(hours) == len(set(hours)) == 48  # one per hour for the two thinned days
    assert all(s.at.minute == 45 for s in old if s.equity != D(500))  # the last of each hour
    peak = store.account.peak_equity()
    assert peak is not None
    assert peak.equity == D(500)
    assert store.account.get(peak.id) is not None
    assert store.account.last_before(day2) == opening_before  # a loss day's opening equity is unchanged
    assert loss_references(store, settings, day2 + timedelta(hours=1)).opening_equity == opening_before.equity
    recent = store.account.select("at >= ?", [ts(now - timedelta(days=1))])
    assert len(recent) == 24 * 4  # the last day in full
    assert thin_snapshots(store, now) == (0, True)  # nothing left to do until more history is a day old
    assert Retention(store)(now + timedelta(hours=1)) == 3  # the next hour's 4 snapshots thinned to 1


def test_db_size_reports_rows_and_growth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from smt_engine.cli.main import main

    db = tmp_path / "smt.db"
    store = Store.open(db)
    now = datetime.now(UTC)
    for minute in range(0, 14 * 24 * 60, 60):  # two weeks, hourly: 24 a day
        e = D(100)
        store.account.insert(
            AccountSnapshot(at=now - timedelta(minutes=minute), balance=e, equity=e, available=e)
        )
    store.close()
    config = tmp_path / "config.toml"
    config.write_text(f'[engine]\ndatabase = "{db}"\n', encoding="utf-8")
    assert main(["db", "size", "--json", "--config", str(config)]) == 0
    tables = {t["table"]: t for t in json.loads(capsys.readouterr().out)["tables"]}
    assert tables["account_snapshots"]["rows"] == 14 * 24
    assert tables["account_snapshots"]["per_day"] == 24.0
    assert tables["account_snapshots"]["bytes"] is None or tables["account_snapshots"]["bytes"] > 0
    assert tables["meta"]["per_day"] is None


def test_db_size_reads_any_file_and_shows_how_a_finished_demo_grew(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--db`` names the file (no configuration needed), and growth is counted over the last week of
    each table's own writes: a database written a month ago (a demo's) still says how it grew, and one
    younger than a week over its own life (here 47 hours), not a week it did not live."""
    from smt_engine.cli.main import main

    db = tmp_path / "demo.db"
    store = Store.open(db)
    then = datetime.now(UTC) - timedelta(days=30)
    for hour in range(48):
        e = D(100)
        store.account.insert(
            AccountSnapshot(at=then - timedelta(hours=hour), balance=e, equity=e, available=e)
        )
    store.close()
    assert main(["db", "size", "--json", "--db", str(db)]) == 0
    tables = {t["table"]: t for t in json.loads(capsys.readouterr().out)["tables"]}
    assert tables["account_snapshots"]["per_day"] == 24.0, "two days of hourly rows: counted over them"
    assert tables["whale_history"]["per_day"] == 0.0
    assert tables["scorecard_reports"]["per_day"] == 0.0
    assert main(["db", "size", "--db", str(tmp_path / "none.db")]) != 0


def test_db_size_counts_a_table_under_a_day_old_as_what_it_wrote_so_far(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "young.db")
    now = datetime.now(UTC)
    for hour in range(6):
        e = D(100)
        store.account.insert(
            AccountSnapshot(at=now - timedelta(hours=hour), balance=e, equity=e, available=e)
        )
    sizes = {t.table: t for t in table_sizes(store, now)}
    assert sizes["account_snapshots"].per_day == 6.0
    store.close()
