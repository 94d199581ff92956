"""The `/` filter: narrows the current table to rows containing the text."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close filter", show=False)]

    class Filtered(Message):
        def __init__(self, text: str, done: bool) -> None:
            super().__init__()
            self.text = text
            self.done = done

    def __init__(self) -> None:
        super().__init__(placeholder="filter rows (enter: keep, esc: clear)", id="filter-bar")
        self.cursor_blink = False

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Filtered(event.value, done=False))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Filtered(event.value, done=True))

    def action_close(self) -> None:
        self.value = ""
        self.post_message(self.Filtered("", done=True))
