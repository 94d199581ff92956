"""Full-screen detail of one row; for a proposal: the complete rationale, sources and gate results."""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static


class DetailScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back", id="back")]

    def __init__(self, key: str, title: str, body: RenderableType) -> None:
        super().__init__()
        self.key = key
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="detail-title")
        with VerticalScroll(id="detail-scroll"):
            yield Static(self.body, id="detail-content")
        yield Footer()

    def show(self, body: RenderableType) -> None:
        self.body = body
        self.query_one("#detail-content", Static).update(body)
