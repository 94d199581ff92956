"""Full-screen detail of one row, described by `smt_tui.describe`; a proposal shows its whole why."""

from __future__ import annotations

from typing import ClassVar, Protocol

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

HEADINGS = {"prompt": "Prompt", "gates": "Risk gates"}
"""The heading each expandable section starts under (``smt_tui.why``)."""


class DetailHost(Protocol):
    """What the detail screen asks of the console: its row described again (a section opened or closed),
    drawn through ``DetailScreen.show`` before the screen scrolls to the opened section's heading."""

    def refresh_detail(self) -> None: ...


class DetailScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("g", "expand('gates')", "Gates", id="toggle-gates", tooltip="show or hide every risk gate"),
        Binding(
            "P",
            "expand('prompt')",
            "Prompt",
            id="toggle-prompt",
            tooltip="show or hide the prompt and raw answer",
        ),
    ]

    def __init__(self, host: DetailHost, key: str, title: str, body: RenderableType) -> None:
        super().__init__()
        self._host = host
        self.key = key
        self.title_text = title
        self.body = body
        self.expanded: frozenset[str] = frozenset()
        self._content: Static | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="detail-title")
        with VerticalScroll(id="detail-scroll"):
            self._content = Static(self.body, id="detail-content")
            yield self._content
        yield Footer()

    def show(self, body: RenderableType) -> None:
        """Draw ``body`` now, or keep it for ``compose`` when the screen is pushed but not yet composed.

        The console's 1 s tick can fall before compose, or after compose but before its widgets are
        mounted (a query finds nothing then), so the composed widget is held, not queried."""
        self.body = body
        if self._content is not None:
            self._content.update(body)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "expand":
            return self.key.startswith("proposal:")
        return True

    def action_expand(self, section: str) -> None:
        self.expanded = self.expanded ^ {section}
        self._host.refresh_detail()
        if section in self.expanded and section in HEADINGS:
            # The section opens far below the fold: bring it to the top, or the key seems to do nothing.
            self.call_after_refresh(self.scroll_to_heading, HEADINGS[section])

    def scroll_to_heading(self, heading: str) -> None:
        content = self.query_one("#detail-content", Static)
        width = content.content_region.width
        if width <= 0:
            return
        console = self.app.console
        lines = console.render_lines(self.body, console.options.update_width(width), pad=False)
        for index, line in enumerate(lines):
            if "".join(segment.text for segment in line).strip() == heading:
                self.query_one("#detail-scroll", VerticalScroll).scroll_to(y=index, animate=False)
                return
