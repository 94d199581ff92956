"""Key reference, generated from the app's bindings so it cannot drift from them."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

NOTES = (
    "Actions write a command row; the engine runs it and the result appears as a notification.\n"
    "Destructive actions (close, close all, clean up) ask for confirmation.\n"
    "Keys that do not apply to the selected row are hidden; in read-only mode they are dimmed.\n"
    "ctrl+p opens the command palette with the same actions."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close", id="help-close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self.bindings_list = bindings

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold", padding=(0, 2))
        table.add_column("key")
        table.add_column("action")
        table.add_column("what it does")
        for b in self.bindings_list:
            table.add_row(Text(b.key_display or b.key, style="bold cyan"), b.description, b.tooltip)
        with VerticalScroll(id="help-box"):
            yield Static(Text("SMT console — keys", style="bold"))
            yield Static(table)
            yield Static(Text(NOTES, style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
