"""The running engine thins its account snapshots itself: the monitor tick's housekeeping calls the
retention (docs/operator-guide.md, "Database size and retention"), with nothing for the operator to run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.exchange.market import SyntheticMarket
from smt_engine.exchange.paper import PaperExchange
from smt_engine.runtime import build_runtime
from smt_engine.secrets import SecretStore
from smt_engine.store import Store
from smt_engine.store.codec import ts
from smt_engine.store.records import AccountSnapshot

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def test_a_monitor_tick_of_the_running_engine_thins_snapshots_older_than_a_day(tmp_path: Path) -> None:
    db = tmp_path / "smt.db"
    settings = Settings.model_validate(
        {"engine": {"mode": "demo", "database": str(db)}, "analyst": {"provider": "heuristic"}}
    )
    store = Store.open(db)
    equity, low = Decimal(1000), Decimal(900)  # the peak (kept for the drawdown) is in the recent hours
    old_hour = NOW - timedelta(days=3)
    for i in range(240):  # an hour three days ago, every 15 s
        store.account.insert(
            AccountSnapshot(at=old_hour + timedelta(seconds=15 * i), balance=low, equity=low, available=low)
        )
    recent = NOW - timedelta(hours=2)
    for i in range(240):  # two hours ago: within the day kept in full
        store.account.insert(
            AccountSnapshot(
                at=recent + timedelta(seconds=15 * i), balance=equity, equity=equity, available=equity
            )
        )
    clock = SimulatedClock(NOW)
    venue = PaperExchange(SyntheticMarket(clock, seed=1), clock)
    rt = build_runtime(settings, store, clock, SecretStore(env={}, use_keyring=False), exchange=venue)
    try:
        await rt.engine._tick()
    finally:
        await rt.aclose()
    old = store.conn.execute(
        "SELECT count(*) FROM account_snapshots WHERE at < ?", [ts(NOW - timedelta(days=1))]
    )
    kept_old = int(old.fetchone()[0])
    young = store.conn.execute(
        "SELECT count(*) FROM account_snapshots WHERE at >= ? AND at < ?",
        [ts(recent), ts(recent + timedelta(hours=1))],
    )
    assert kept_old == 1, "the hour three days ago keeps its last snapshot only"
    assert int(young.fetchone()[0]) == 240, "the last day is kept in full"
    store.close()
