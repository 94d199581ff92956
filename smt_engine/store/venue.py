"""What the venue told us: contract precision and the account's equity curve (the market data itself is
never stored; ``smt_engine.exchange.market`` reads it)."""

from __future__ import annotations

from datetime import datetime

from smt_engine.domain import Contract
from smt_engine.store.base import Repo
from smt_engine.store.codec import to_row, ts
from smt_engine.store.records import AccountSnapshot, ContractRecord


class ContractsRepo(Repo[ContractRecord]):
    table = "contracts"
    record = ContractRecord
    pk = "symbol"

    def save(self, contract: Contract, fetched_at: datetime) -> None:
        row = to_row(
            ContractRecord(
                symbol=contract.symbol,
                step_size=contract.step_size,
                tick_size=contract.tick_size,
                min_size=contract.min_size,
                max_size=contract.max_size,
                min_notional=contract.min_notional,
                max_leverage=contract.max_leverage,
                fetched_at=fetched_at,
            )
        )
        self.write_row(row, "INSERT OR REPLACE")

    def load(self, symbol: str) -> tuple[Contract, datetime] | None:
        rec = self.get(symbol)
        if rec is None:
            return None
        contract = Contract(
            symbol=rec.symbol,
            step_size=rec.step_size,
            tick_size=rec.tick_size,
            min_size=rec.min_size,
            max_size=rec.max_size,
            min_notional=rec.min_notional,
            max_leverage=rec.max_leverage,
        )
        return contract, rec.fetched_at


class AccountRepo(Repo[AccountSnapshot]):
    table = "account_snapshots"
    record = AccountSnapshot

    def latest(self) -> AccountSnapshot | None:
        rows = self.select(order_by="id DESC", limit=1)
        return rows[0] if rows else None

    def since(self, start: datetime, limit: int = 2000) -> list[AccountSnapshot]:
        """Oldest first, for the equity sparkline and drawdown."""
        # By the ``at`` index: ordering by id would walk every older row when none is recent enough.
        rows = self.select("at >= ?", [ts(start)], order_by="at DESC, id DESC", limit=limit)
        return rows[::-1]

    def peak_equity(self, since: datetime | None = None) -> AccountSnapshot | None:
        """The highest-equity snapshot (since ``since``), read from the kept peaks, not the whole table.

        The triggers of migration 12 keep the all-time peak and the peak since the latest kill-switch
        reset as snapshots arrive (and keep them when retention thins the snapshots out). Any other
        ``since`` is a range read on the ``at`` index.
        """
        with self.lock:
            if since is None:
                kept = self.db.execute("SELECT snapshot_id FROM account_peaks WHERE scope = 'all'").fetchone()
            else:
                kept = self.db.execute(
                    "SELECT snapshot_id FROM account_peaks WHERE scope = 'reset' AND since = ?", [ts(since)]
                ).fetchone()
            if kept is not None:
                peak = self.get(kept[0]) if kept[0] is not None else None
                if peak is not None or since is not None:
                    return peak
        where, params = ("at >= ?", [ts(since)]) if since is not None else ("1", [])
        rows = self.select(where, params, order_by="CAST(equity AS REAL) DESC", limit=1)
        return rows[0] if rows else None

    def last_before(self, at: datetime) -> AccountSnapshot | None:
        """The newest snapshot taken at or before ``at`` (a day's opening equity)."""
        rows = self.select("at <= ?", [ts(at)], order_by="at DESC, id DESC", limit=1)
        return rows[0] if rows else None

    def first_since(self, at: datetime) -> AccountSnapshot | None:
        rows = self.select("at >= ?", [ts(at)], order_by="at, id", limit=1)
        return rows[0] if rows else None
