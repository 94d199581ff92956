"""The key footer, rebuilt only when the keys it lists change.

Textual's ``Footer`` recomposes (new widgets, styles applied again, a second layout) whenever the screen
publishes a bindings change, which it does on every focus change: every tab switch. Here a switch between
two tabs that offer the same keys leaves the footer's widgets as they are.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

Listing = tuple[tuple[str, str, str, bool, str], ...]
"""What the footer shows for each key: key, description, action, whether it is enabled, tooltip."""


class SteadyFooter(Footer):
    _listed: Listing | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._follow_bindings)

    def listing(self) -> Listing:
        """The keys Footer.compose would draw for the screen's bindings now."""
        shown: list[tuple[str, str, str, bool, str]] = [
            (binding.key, binding.description, binding.action, enabled, tooltip)
            for _, binding, enabled, tooltip in self.screen.active_bindings.values()
            if binding.show
        ]
        return (*shown, (self.app.COMMAND_PALETTE_BINDING, "", "", self.show_command_palette, ""))

    @property
    def up_to_date(self) -> bool:
        return self._listed == self.listing()

    async def _follow_bindings(self) -> None:
        if not self.is_attached:
            return
        listing = self.listing()
        if listing != self._listed:
            self._listed = listing
            await self.recompose()
