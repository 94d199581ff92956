"""The audit log, oldest at the top so new rows append; the level filter is applied by the read model."""

from __future__ import annotations

from rich.text import Text

from smt_engine.domain import EventLevel
from smt_engine.store.records import Event
from smt_tui import fmt
from smt_tui.widgets.keyed_table import Col, KeyedTable, Row

LEVEL_STYLE = {
    EventLevel.DEBUG: "dim",
    EventLevel.INFO: "",
    EventLevel.WARNING: "yellow",
    EventLevel.ERROR: "bold red",
    EventLevel.CRITICAL: "bold white on red",
}


def event_row(e: Event) -> Row:
    return (
        f"event:{e.id}",
        (
            fmt.clock(e.at),
            Text(e.level.value.upper(), style=LEVEL_STYLE[e.level]),
            e.kind,
            e.message,
        ),
    )


class EventLog(KeyedTable):
    COLUMNS = (
        Col("at", "Time"),
        Col("level", "Level"),
        Col("kind", "Kind", 1),
        Col("message", "Message", text=True),
    )

    def show(self, events: tuple[Event, ...]) -> None:
        at_end = self.row_count == 0 or self.cursor_row >= self.row_count - 1
        self.sync([event_row(e) for e in events])
        if at_end and self.row_count:
            # Follow the tail like `tail -f` unless the operator moved up to read something.
            self.move_cursor(row=self.row_count - 1, animate=False)
