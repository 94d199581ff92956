"""Confirmation for destructive actions: nothing is sent unless the operator says yes; what it says is
current (a live body is read again on every snapshot)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class ConfirmModal(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n", "answer(False)", "No", id="confirm-no"),
        Binding("escape", "answer(False)", "Cancel", id="confirm-cancel"),
    ]

    def __init__(self, title: str, body: str | Callable[[], str]) -> None:
        """``body`` may be a function: then it is read again on every snapshot (``refresh_body``), so a
        figure it calls "now" is the latest one while the operator reads."""
        super().__init__()
        self.title_text = title
        self._body = body
        self.body = body() if callable(body) else body

    def refresh_body(self) -> None:
        if not callable(self._body):
            return
        body = self._body()
        if body != self.body:
            self.body = body
            self.query_one("#confirm-body", Label).update(body)

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(self.title_text, id="confirm-title")
            yield Label(self.body, id="confirm-body")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        # Focus "No" so a stray enter cancels rather than confirms.
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
