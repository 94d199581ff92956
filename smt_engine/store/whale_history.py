"""The per-address transfer cache behind whale features: rows plus how far each (address, kind) is synced.

A cycle asks only for blocks after ``to_block`` (and before ``from_block`` when a longer window is
wanted), so nothing already cached is fetched twice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from smt_engine.store.base import Repo
from smt_engine.store.codec import decode_rows, from_row, to_row, ts

T = TypeVar("T")


@dataclass(slots=True, kw_only=True)
class HistoryTransfer:
    address: str
    uid: str
    kind: str
    tx_hash: str
    block: int
    at: datetime
    from_address: str
    to_address: str
    value: Decimal
    token_symbol: str
    token_contract: str
    gas_used: int
    is_error: bool
    seq: str


@dataclass(slots=True, kw_only=True)
class HistorySync:
    address: str
    kind: str
    from_block: int
    to_block: int
    synced_at: datetime


class WhaleHistoryRepo(Repo[HistoryTransfer]):
    table = "whale_history"
    record = HistoryTransfer
    pk = "uid"

    def add(self, rows: list[HistoryTransfer]) -> int:
        """Insert rows not cached yet; returns how many were new."""
        return self.write_many(rows)

    def for_address(self, address: str, since: datetime | None = None) -> list[HistoryTransfer]:
        return self.read_as(HistoryTransfer, address, since)

    def between(self, address: str, start: datetime, end: datetime) -> list[HistoryTransfer]:
        return self.read_as(HistoryTransfer, address, start, end)

    def read_as(
        self, cls: type[T], address: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[T]:
        """An address's cached rows (oldest first) decoded straight into ``cls``, a record whose fields
        are columns of this table (the whale features read tens of thousands of rows per cycle)."""
        where, params = "address = ?", [address]
        if start is not None:
            where, params = f"{where} AND at >= ?", [*params, ts(start)]
        if end is not None:
            where, params = f"{where} AND at <= ?", [*params, ts(end)]
        columns = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        sql = f"SELECT {', '.join(columns)} FROM {self.table} WHERE {where} ORDER BY block, tx_hash, seq"
        with self.lock:
            rows = self.db.execute(sql, params).fetchall()
        return decode_rows(cls, columns, rows)

    def prune(self, before: datetime) -> int:
        """Drop rows older than ``before`` (retention); returns how many went."""
        with self.lock, self.db.atomic():
            return int(self.db.execute("DELETE FROM whale_history WHERE at < ?", [ts(before)]).rowcount)

    def sync_state(self, address: str, kind: str) -> HistorySync | None:
        with self.lock:
            rows = list(
                self.db.query(
                    "SELECT * FROM whale_history_sync WHERE address = ? AND kind = ?", [address, kind]
                )
            )
        if not rows:
            return None
        return from_row(HistorySync, rows[0])

    def set_sync(self, state: HistorySync) -> None:
        row = to_row(state)
        with self.lock, self.db.atomic():
            self.db.execute(
                f"INSERT OR REPLACE INTO whale_history_sync ({', '.join(row)}) "
                f"VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
