"""Side pane (wide terminals): the row under the cursor, described by `smt_tui.describe`."""

from __future__ import annotations

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static


class DetailPane(VerticalScroll):
    can_focus = False

    def compose(self) -> ComposeResult:
        yield Static("Select a row to see its details.", id="detail-body")

    def show(self, renderable: RenderableType) -> None:
        self.query_one("#detail-body", Static).update(renderable)
