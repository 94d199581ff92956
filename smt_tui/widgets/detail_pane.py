"""Side pane (wide terminals): the row under the cursor, described by `smt_tui.describe`, or nothing.

The pane redraws for every snapshot that moves the selected row (a position's PnL), so it asks for a new
layout only when another row is shown: a full layout of the console costs tens of milliseconds and was
most of the demo console's CPU. The same row described again keeps its shape (its figures change, not
its lines).
"""

from __future__ import annotations

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

EMPTY = "Select a row to see its details."


class DetailPane(VerticalScroll):
    can_focus = False

    _key: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(EMPTY, id="detail-body")

    def show(self, key: str | None, renderable: RenderableType | None) -> None:
        """Show row ``key``; None shows the empty pane (nothing is selected on the visible tab)."""
        same = key is not None and key == self._key
        self._key = key if renderable is not None else None
        content: RenderableType = EMPTY if renderable is None else renderable
        self.query_one("#detail-body", Static).update(content, layout=not same)
