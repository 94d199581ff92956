"""The key footer, rebuilt only when the keys it lists change.

Textual's ``Footer`` recomposes (new widgets, styles applied again) whenever the screen publishes a
bindings change, which it does on every focus change: every tab switch. Here the same keys in the same
order keep their widgets, and a key that only became available or unavailable is restyled in place.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

Listed = tuple[tuple[str, str, str, str, str], ...]
"""What the footer shows for each key: key, key display, description, action, tooltip."""


class SteadyFooter(Footer):
    _listed: Listed | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._follow_bindings)

    def _shown(self) -> list[tuple[Binding, bool, str]]:
        """The bindings Footer.compose would draw, one per action, in the same order."""
        by_action: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in by_action:
                by_action[binding.action] = (binding, enabled, tooltip)
        palette = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        shown = list(by_action.values())
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and palette is not None:
            shown.append((palette[1], palette[2], palette[3]))
        return shown

    async def _follow_bindings(self) -> None:
        if not self.is_attached:
            return
        shown = self._shown()
        listed: Listed = tuple(
            (b.key, self.app.get_key_display(b), b.description, b.action, tip) for b, _, tip in shown
        )
        keys = list(self.query(FooterKey))
        if listed != self._listed or len(keys) != len(shown):
            self._listed = listed
            await self.recompose()
            return
        for widget, (_, enabled, _) in zip(keys, shown, strict=True):
            if widget._disabled != (not enabled):
                widget._disabled = not enabled
                widget.set_class(not enabled, "-disabled")
