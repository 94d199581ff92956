"""Command palette: the same actions as the keys, offered only when they apply."""

from __future__ import annotations

from functools import partial
from typing import Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider


class PaletteHost(Protocol):
    """What the palette needs of the console: its actions and whether each applies now. A protocol, so
    the palette sits below the App that offers it instead of importing it back."""

    def palette_actions(self) -> list[tuple[str, str, str]]: ...

    def action_state(self, action: str) -> bool | None: ...


class PaletteActions(Provider):
    """The console's actions offered in Textual's palette ("command" in this project means a queued
    operator command only, so the palette's entries are called actions here)."""

    def _available(self) -> list[tuple[str, str, str]]:
        app = cast(PaletteHost, self.app)
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
