"""A one-value question (a new stop price, a size to close, a pair): nothing is sent unless the operator
enters a value and presses enter; escape cancels. The caller checks the value and says why it is refused."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class ValueInputModal(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="value-cancel"),
    ]

    def __init__(self, title: str, body: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="value-box"):
            yield Label(self.title_text, id="value-title")
            yield Label(self.body, id="value-body")
            yield Input(self.value, placeholder=self.placeholder, id="value-input")
            yield Label("enter: send   escape: cancel", id="value-hint")

    def on_mount(self) -> None:
        self.query_one("#value-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
