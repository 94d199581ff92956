"""The operator command queue: the console and CLI insert, the engine claims and completes.

Claiming is one atomic UPDATE ... RETURNING, so a command can never run twice even if two
consumers raced for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smt_engine.domain import CommandKind, CommandState
from smt_engine.store.base import Repo
from smt_engine.store.codec import from_row, ts
from smt_engine.store.records import Command


class CommandsRepo(Repo[Command]):
    table = "commands"
    record = Command

    def enqueue(
        self, kind: CommandKind, at: datetime, actor: str, args: dict[str, Any] | None = None
    ) -> Command:
        return self.insert(Command(kind=kind, actor=actor, created_at=at, args=args or {}))

    def claim_next(self, at: datetime) -> Command | None:
        """Take the oldest pending command, marking it running."""
        with self.lock, self.db.atomic():
            rows = list(
                self.db.query(
                    "UPDATE commands SET state = ?, claimed_at = ? WHERE id = "
                    "(SELECT id FROM commands WHERE state = ? ORDER BY id LIMIT 1) RETURNING *",
                    [CommandState.RUNNING.value, ts(at), CommandState.PENDING.value],
                )
            )
        return from_row(Command, rows[0]) if rows else None

    def complete(self, command_id: int, at: datetime, result: dict[str, Any] | None = None) -> None:
        self.update(command_id, state=CommandState.DONE, completed_at=at, result=result or {})

    def fail(self, command_id: int, at: datetime, error: str) -> None:
        self.update(command_id, state=CommandState.FAILED, completed_at=at, error=error)

    def pending(self) -> list[Command]:
        return self.select("state = ?", [CommandState.PENDING.value], order_by="id")

    def recent(self, limit: int = 50) -> list[Command]:
        return self.select(order_by="id DESC", limit=limit)

    def requeue_running(self) -> int:
        """Commands left running by a crashed engine: fail them rather than run them twice."""
        with self.lock, self.db.atomic():
            cursor = self.db.execute(
                "UPDATE commands SET state = ?, error = ? WHERE state = ?",
                [
                    CommandState.FAILED.value,
                    "engine stopped while running this command",
                    CommandState.RUNNING.value,
                ],
            )
        return cursor.rowcount
