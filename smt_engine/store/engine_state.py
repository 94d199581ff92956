"""The single ``engine`` row: state, heartbeat, next cycle."""

from __future__ import annotations

from typing import Any

from smt_engine.domain import EngineState
from smt_engine.store.base import Repo
from smt_engine.store.codec import encode_fields, to_row
from smt_engine.store.records import EngineStatus


class EngineRepo(Repo[EngineStatus]):
    table = "engine"
    record = EngineStatus

    def current(self) -> EngineStatus | None:
        rows = self.select("id = 1")
        return rows[0] if rows else None

    def state_or(self, default: EngineState) -> EngineState:
        """The recorded engine state, or ``default`` when no engine has ever run on this database."""
        row = self.current()
        return row.state if row is not None else default

    def put(self, status: EngineStatus) -> None:
        """Replace the whole row (engine start-up)."""
        row = {"id": 1, **to_row(status)}
        self.write_row(row, "INSERT OR REPLACE")

    def set(self, **fields: Any) -> None:
        """Update some fields of the row that ``put`` created."""
        values = encode_fields(EngineStatus, fields)
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.lock, self.db.atomic():
            cursor = self.db.execute(f"UPDATE engine SET {sets} WHERE id = 1", list(values.values()))
        if cursor.rowcount == 0:
            raise KeyError("engine row missing: call put() at start-up first")
