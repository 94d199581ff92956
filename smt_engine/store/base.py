"""A typed repository over one table: the only SQL the rest of the code ever needs is named here."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import sqlite_utils

from smt_engine.store.codec import decode_rows, encode_fields, to_params, to_row

R = TypeVar("R")

_NO_ID = object()
"""What a record without an ``id`` field reads as: never ``None``, so it is never given one."""


class Repo(Generic[R]):
    """CRUD for a record type; subclasses add the queries their callers need by name."""

    table: str
    record: type[R]
    pk: str = "id"

    def __init__(self, db: sqlite_utils.Database, lock: threading.RLock) -> None:
        self.db = db
        self.lock = lock

    def write_row(self, row: dict[str, Any], verb: str = "INSERT") -> sqlite3.Cursor:
        """Run ``verb`` (INSERT, INSERT OR REPLACE, INSERT OR IGNORE) for one encoded row."""
        with self.lock, self.db.atomic():
            return self.db.execute(
                f"{verb} INTO {self.table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )

    def write_many(self, records: Sequence[Any], verb: str = "INSERT OR IGNORE") -> int:
        """One statement for a batch of records of one type; returns how many rows it changed.

        Not one savepoint per row: a cold whale-history cache is tens of thousands of rows.
        """
        if not records:
            return 0
        columns, params = to_params(records)
        sql = f"{verb} INTO {self.table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        with self.lock, self.db.atomic():
            # rowcount sums each row's own changes: an ignored duplicate counts 0, a trigger's writes none.
            return int(self.db.conn.executemany(sql, params).rowcount)

    def insert(self, record: R) -> R:
        """Insert and return the record with its new id set (when the table has an integer id).

        A record with no ``id`` field at all (a table keyed by several columns) comes back as given:
        the row is written either way, so the caller must never be told it was not."""
        cursor = self.write_row(to_row(record))
        if self.pk == "id" and getattr(record, "id", _NO_ID) is None:
            return dataclasses.replace(record, id=cursor.lastrowid)  # type: ignore[type-var]
        return record

    def update(self, key: Any, **fields: Any) -> None:
        if not fields:
            return
        values = encode_fields(self.record, fields)
        sets = ", ".join(f"{name} = ?" for name in values)
        with self.lock, self.db.atomic():
            cursor = self.db.execute(
                f"UPDATE {self.table} SET {sets} WHERE {self.pk} = ?", [*values.values(), key]
            )
        if cursor.rowcount == 0:
            raise KeyError(f"{self.table}: no row with {self.pk} = {key!r}")

    def get(self, key: Any) -> R | None:
        rows = self.select(f"{self.pk} = ?", [key])
        return rows[0] if rows else None

    def select(
        self,
        where: str = "1",
        params: Sequence[Any] = (),
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[R]:
        sql = f"SELECT * FROM {self.table} WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.lock:
            cursor = self.db.execute(sql, list(params))
            rows = cursor.fetchall()
        return decode_rows(self.record, [d[0] for d in cursor.description], rows)

    def count(self, where: str = "1", params: Sequence[Any] = ()) -> int:
        with self.lock:
            row = next(self.db.query(f"SELECT count(*) AS n FROM {self.table} WHERE {where}", list(params)))
        return int(row["n"])
