"""Messages posted by workers to the UI thread (workers never touch widgets)."""

from __future__ import annotations

from textual.message import Message

from smt_engine.store.records import Command
from smt_tui.state import Snapshot


class SnapshotReady(Message):
    """The read model found a change; ``snapshot.changed`` names the sections."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class CommandSent(Message):
    """An operator command row was inserted; its result arrives later as a finished command."""

    def __init__(self, command: Command, label: str, engine_alive: bool) -> None:
        super().__init__()
        self.command = command
        self.label = label
        self.engine_alive = engine_alive


class CommandNotSent(Message):
    """Nothing was queued: no engine holds the database, or the write failed."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__()
        self.label = label
        self.reason = reason
