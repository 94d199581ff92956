"""The key footer, relabelled in place: a tab switch never mounts a widget or asks for a layout of its own.

Textual's ``Footer`` recomposes (new widgets, styles applied again, a second layout after the switch's
own) a refresh after every bindings change, which the screen publishes on every focus change: every tab
switch. Here the footer keeps its row of ``FooterKey`` widgets and rewrites their labels, hiding the ones
not needed, as soon as it is asked (``follow``), so that the switch's own layout draws the new keys
(docs/benchmarks.md, console). A widget is mounted only when more keys apply than ever before. Binding
groups are not drawn as groups (the console has none).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

Item = tuple[str, str, str, str, bool, str]
"""What the footer shows for one key: key, key as displayed, description, action, enabled, tooltip."""

PALETTE = "-command-palette"
"""The class of the command palette's key, docked at the right (Textual's own)."""


class SteadyFooter(Footer):
    _listed: tuple[Item, ...] | None = None

    def compose(self) -> ComposeResult:
        yield from ()  # the keys are added by ``follow`` once the screen's bindings are known

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.follow()

    def listing(self) -> tuple[Item, ...]:
        """The keys ``Footer.compose`` would draw for the screen's bindings now (one per action), and
        last the command palette's key when it is shown."""
        items: dict[str, Item] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in items:
                key_display = self.app.get_key_display(binding)
                items[binding.action] = (
                    binding.key,
                    key_display,
                    binding.description,
                    binding.action,
                    enabled,
                    tooltip,
                )
        shown = list(items.values())
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            found = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                _, binding, enabled, _ = found
                shown.append(
                    (
                        binding.key,
                        self.app.get_key_display(binding),
                        binding.description,
                        binding.action,
                        enabled,
                        binding.tooltip or binding.description,
                    )
                )
        return tuple(shown)

    @property
    def up_to_date(self) -> bool:
        return self._listed == self.listing()

    def follow(self) -> None:
        """Show the keys that apply now, relabelling the key widgets already there."""
        if not self.is_attached:
            return
        listing = self.listing()
        if listing == self._listed:
            return
        self._listed = listing
        palette_items = [item for item in listing if item[0] == self.app.COMMAND_PALETTE_BINDING]
        items = [item for item in listing if item[0] != self.app.COMMAND_PALETTE_BINDING]
        widgets = list(self.query_children(FooterKey))
        keys = [w for w in widgets if not w.has_class(PALETTE)]
        palette = [w for w in widgets if w.has_class(PALETTE)]
        for widget, item in zip(keys, items, strict=False):
            _relabel(widget, item)
        for widget in keys[len(items) :]:
            widget.display = False
        for widget in palette:
            widget.display = bool(palette_items)
            if palette_items:
                _relabel(widget, palette_items[0])
        new = [self._key(item) for item in items[len(keys) :]]
        if new and palette:
            self.mount(*new, before=palette[0])  # in the order listed (the palette's key is docked)
        elif new or (palette_items and not palette):
            self.mount(*new, *(self._key(palette_items[0], PALETTE) for _ in palette_items[:1]))

    def _key(self, item: Item, classes: str = "") -> FooterKey:
        key, key_display, description, action, enabled, tooltip = item
        widget = FooterKey(
            key, key_display, description, action, disabled=not enabled, tooltip=tooltip, classes=classes
        )
        if classes != PALETTE:  # as in Footer.compose, where only the palette's key keeps its own style
            # What Footer.compose's data_bind does, outside a compose (the footer's style never changes).
            widget.set_reactive(FooterKey.compact, self.compact)
            widget.set_class(self.compact, "-compact")
        return widget


def _relabel(widget: FooterKey, item: Item) -> None:
    """Draw ``item`` in an existing key widget; a new layout only when its width changes."""
    key, key_display, description, action, enabled, tooltip = item
    resized = (key_display, description) != (widget.key_display, widget.description) or not widget.display
    widget.key, widget.key_display, widget.description, widget.action = key, key_display, description, action
    widget._disabled = not enabled  # read by FooterKey.on_mouse_down: a click on a disabled key rings
    widget.set_class(not enabled, "-disabled")
    widget.tooltip = tooltip or None
    widget.display = True
    widget.refresh(layout=resized)
