"""The store reads the kill switch and the stop-loss cooldown rest on: a day's opening equity (the newest
snapshot at or before the day's start, else the first after it), the kept peak equity (all time, since the
latest reset, or any other start), the latest kill-switch reset, and the newest cleared stop per symbol."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from smt_engine.store import Store
from smt_engine.store.cooldowns import CooldownClearance
from smt_engine.store.kill_switch import KillSwitchReset
from smt_engine.store.records import AccountSnapshot

T0 = datetime(2026, 3, 1, tzinfo=UTC)
D = Decimal


def _snap(store: Store, minutes: int, equity: str) -> int:
    e = D(equity)
    snap = AccountSnapshot(at=T0 + timedelta(minutes=minutes), balance=e, equity=e, available=e)
    row_id = store.account.insert(snap).id
    assert row_id is not None
    return row_id


def _reset(store: Store, minutes: int, equity: str | None = None, actor: str = "op") -> None:
    at = T0 + timedelta(minutes=minutes)
    value = D(equity) if equity is not None else None
    store.kill_switch.insert(KillSwitchReset(at=at, actor=actor, cleared="drawdown", equity=value))


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _ids(rows: list[AccountSnapshot | None]) -> list[int | None]:
    return [r.id if r is not None else None for r in rows]


def test_last_before_is_the_newest_snapshot_at_or_before_the_time(store: Store) -> None:
    assert store.account.last_before(T0 + timedelta(minutes=10)) is None  # no snapshot at all
    first = _snap(store, 1, "100")
    at_three = _snap(store, 3, "103")
    same_minute = _snap(store, 3, "104")  # same time, a later row: the newer one is the opening
    _snap(store, 5, "105")
    assert store.account.last_before(_at(0)) is None  # only later snapshots
    assert _ids([store.account.last_before(_at(1))]) == [first]  # exactly at: included
    assert _ids([store.account.last_before(_at(2))]) == [first]
    assert _ids([store.account.last_before(_at(3))]) == [same_minute]
    assert at_three < same_minute
    got = store.account.last_before(_at(4))
    assert got is not None
    assert (got.id, got.equity, got.at) == (same_minute, D(104), _at(3))
    assert store.account.last_before(_at(99)).equity == D(105)  # type: ignore[union-attr]


def test_first_since_is_the_oldest_snapshot_at_or_after_the_time(store: Store) -> None:
    assert store.account.first_since(T0) is None  # no snapshot at all
    _snap(store, 1, "100")
    at_three = _snap(store, 3, "103")
    _snap(store, 3, "104")  # same time, a later row: the earlier one is first
    _snap(store, 5, "105")
    assert store.account.first_since(_at(6)) is None  # only earlier snapshots
    assert _ids([store.account.first_since(_at(3))]) == [at_three]  # exactly at: included
    got = store.account.first_since(_at(2))
    assert got is not None
    assert (got.id, got.equity, got.at) == (at_three, D(103), _at(3))
    assert store.account.first_since(_at(4)).equity == D(105)  # type: ignore[union-attr]
    assert store.account.first_since(_at(-1)).equity == D(100)  # type: ignore[union-attr]


def test_peak_equity_with_no_snapshot_is_none(store: Store) -> None:
    assert store.account.peak_equity() is None
    assert store.account.peak_equity(T0) is None  # a range read, nothing in range
    _reset(store, 0, "100")
    assert store.account.peak_equity(T0) is None  # the kept peak since the reset: none yet


def test_peak_equity_all_time_is_the_kept_highest_by_value_not_by_text(store: Store) -> None:
    _snap(store, 0, "100")
    top = _snap(store, 1, "120.25")
    _snap(store, 2, "99.5")
    _snap(store, 3, "9.99")  # the highest as text
    _snap(store, 4, "120.25")  # a tie later: the first to reach the peak stays
    peak = store.account.peak_equity()
    assert peak is not None
    assert (peak.id, peak.equity, peak.at) == (top, D("120.25"), T0 + timedelta(minutes=1))


def test_peak_equity_since_the_latest_reset_is_the_kept_one_and_any_other_start_a_range(store: Store) -> None:
    _snap(store, 0, "150")
    _snap(store, 1, "100")
    _reset(store, 2, "100")
    at_reset = _snap(store, 2, "104")  # taken exactly at the reset: counts
    _snap(store, 3, "103")
    later = _snap(store, 4, "101")
    reset_at = T0 + timedelta(minutes=2)
    since = store.account.peak_equity(reset_at)
    assert since is not None
    assert (since.id, since.equity) == (at_reset, D(104))
    overall = store.account.peak_equity()
    assert overall is not None
    assert overall.equity == D(150)
    # Any other start (not the latest reset's time) is a range read, its bound included.
    other = store.account.peak_equity(T0 + timedelta(minutes=4))
    assert other is not None
    assert (other.id, other.equity) == (later, D(101))
    older = store.account.peak_equity(T0 + timedelta(minutes=1))
    assert older is not None
    assert older.equity == D(104)
    assert store.account.peak_equity(T0 + timedelta(minutes=5)) is None


def test_peak_equity_since_an_older_reset_is_a_range_read_from_it(store: Store) -> None:
    _reset(store, 0, "100")
    _snap(store, 0, "130")
    _snap(store, 1, "90")
    _reset(store, 2, "90")
    _snap(store, 3, "95")
    old = store.account.peak_equity(T0)  # the first reset: not the kept one any more
    assert old is not None
    assert old.equity == D(130)
    latest = store.account.peak_equity(T0 + timedelta(minutes=2))
    assert latest is not None
    assert latest.equity == D(95)


def _reads(store: Store, since: datetime | None) -> tuple[AccountSnapshot | None, list[str]]:
    calls: list[str] = []
    with store.lock:
        store.conn.set_trace_callback(calls.append)
        try:
            peak = store.account.peak_equity(since)
        finally:
            store.conn.set_trace_callback(None)
    return peak, calls


def test_peak_equity_reads_the_kept_peak_not_the_snapshots(store: Store) -> None:
    """All time and since the latest reset: one lookup in account_peaks and one row by id, no scan."""
    for minute in range(20):
        _snap(store, minute, str(100 + minute % 7))
    _reset(store, 20, "101")
    _snap(store, 21, "102")
    _snap(store, 22, "101.5")
    peak, calls = _reads(store, None)
    assert peak is not None
    assert peak.equity == D(106)
    assert len(calls) == 2, calls
    assert "account_peaks" in calls[0], calls
    assert "'all'" in calls[0], calls
    assert not any("CAST(equity" in sql for sql in calls), calls
    since, calls = _reads(store, T0 + timedelta(minutes=20))
    assert since is not None
    assert since.equity == D(102)
    assert len(calls) == 2, calls
    assert "account_peaks" in calls[0], calls
    assert "'reset'" in calls[0], calls
    assert not any("CAST(equity" in sql for sql in calls), calls


def test_peak_since_the_latest_reset_with_no_snapshot_since_is_none_without_a_scan(
    store: Store,
) -> None:
    _snap(store, 0, "150")
    _reset(store, 1, "150")
    peak, calls = _reads(store, T0 + timedelta(minutes=1))
    assert peak is None
    assert len(calls) == 1, calls
    assert not any("CAST(equity" in sql for sql in calls), calls


def test_peak_equity_all_time_falls_back_to_a_scan_when_the_kept_row_is_gone(store: Store) -> None:
    """A kept peak whose snapshot was deleted by hand: the highest left is read, not None."""
    _snap(store, 0, "100")
    top = _snap(store, 1, "200")
    second = _snap(store, 2, "150")
    with store.lock:
        store.conn.execute("DELETE FROM account_snapshots WHERE id = ?", [top])
    peak, calls = _reads(store, None)
    assert peak is not None
    assert (peak.id, peak.equity) == (second, D(150))
    assert any("CAST(equity" in sql for sql in calls), calls


def test_kill_switch_latest_is_the_last_reset_recorded(store: Store) -> None:
    assert store.kill_switch.latest() is None
    _reset(store, 10, "100", actor="first")
    _reset(store, 5, None, actor="second")  # recorded later, timed earlier: still the latest
    latest = store.kill_switch.latest()
    assert latest is not None
    assert (latest.actor, latest.at, latest.equity, latest.cleared) == (
        "second",
        T0 + timedelta(minutes=5),
        None,
        "drawdown",
    )
    _reset(store, 20, "90.5", actor="third")
    latest = store.kill_switch.latest()
    assert latest is not None
    assert (latest.actor, latest.equity) == ("third", D("90.5"))


def _clear(store: Store, symbol: str, stop_minutes: int) -> None:
    store.cooldown_clearances.insert(
        CooldownClearance(
            symbol=symbol,
            stop_at=T0 + timedelta(minutes=stop_minutes),
            cleared_at=T0 + timedelta(hours=1),
            actor="op",
        )
    )


def test_cleared_is_the_newest_cleared_stop_per_symbol(store: Store) -> None:
    assert store.cooldown_clearances.cleared() == {}
    _clear(store, "ETHUSDT", 30)
    _clear(store, "ETHUSDT", 45)
    _clear(store, "ETHUSDT", 5)  # recorded last, an older stop: the newest stop stays
    _clear(store, "BTCUSDT", 600)  # ten hours: later as text only if compared as a time
    got = store.cooldown_clearances.cleared()
    assert got == {"ETHUSDT": T0 + timedelta(minutes=45), "BTCUSDT": T0 + timedelta(minutes=600)}
    assert all(v.tzinfo is UTC for v in got.values())


def test_reads_do_not_rest_on_sqlite_unspecified_row_order(store: Store) -> None:
    """With SQLite told to return unordered rows backwards, every read still names the same row."""
    later = _snap(store, 5, "105")
    _snap(store, 3, "103")  # inserted after, timed before: id order and time order differ
    _reset(store, 9, "100", actor="first")
    _reset(store, 1, "100", actor="second")
    with store.lock:
        store.conn.execute("PRAGMA reverse_unordered_selects = ON")
    try:
        first = store.account.first_since(_at(2))
        assert first is not None
        assert first.equity == D(103)
        before = store.account.last_before(_at(6))
        assert before is not None
        assert before.id == later
        assert store.kill_switch.latest().actor == "second"  # type: ignore[union-attr]
    finally:
        with store.lock:
            store.conn.execute("PRAGMA reverse_unordered_selects = OFF")


def test_each_read_fetches_one_row(store: Store) -> None:
    """The per-tick reads are bounded: one statement each, one row asked for, however long the history."""
    for minute in range(5):
        _snap(store, minute, str(100 + minute))
    _reset(store, 9, "100")
    reads = {
        "last_before": lambda: store.account.last_before(_at(3)),
        "first_since": lambda: store.account.first_since(_at(1)),
        "peak_since_other": lambda: store.account.peak_equity(_at(1)),
        "kill_switch_latest": store.kill_switch.latest,
    }
    for name, read in reads.items():
        calls: list[str] = []
        with store.lock:
            store.conn.set_trace_callback(calls.append)
            try:
                assert read() is not None, name
            finally:
                store.conn.set_trace_callback(None)
        selects = [sql for sql in calls if sql.startswith("SELECT * FROM")]
        assert len(selects) == 1, (name, calls)
        assert selects[0].endswith(" LIMIT 1"), (name, selects)
