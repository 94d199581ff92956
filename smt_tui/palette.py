"""Command palette: the same actions as the keys, offered only when they apply."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from smt_tui.app import ConsoleApp


class PaletteActions(Provider):
    """The console's actions offered in Textual's palette ("command" in this project means a queued
    operator command only, so the palette's entries are called actions here)."""

    def _available(self) -> list[tuple[str, str, str]]:
        app = cast("ConsoleApp", self.app)
        return [
            (action, title, help_text)
            for action, title, help_text in app.palette_actions()
            if app.action_state(action) is True
        ]

    async def discover(self) -> Hits:
        for action, title, help_text in self._available():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action, title, help_text in self._available():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self.app.run_action, action), help=help_text
                )
