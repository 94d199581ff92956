"""The manual entry form: pair, side, margin or size, optional TP/SL distances.

It checks the shape of what was typed with the engine's own check (``store.entry_args.parse_entry``)
and says which field is wrong; it sends nothing itself. The engine checks again, prices the entry and runs
the risk gates; its answer comes back as the command's toast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from smt_engine.store.entry_args import EntryArgsError, EntryRequest, parse_entry

UNITS = (("margin, USDT", "margin"), ("size, contracts", "size"))


class EntryForm(ModalScreen[EntryRequest | None]):
    """Dismissed with the checked request, or None when cancelled."""

    DEFAULT_CSS = """
    EntryForm { align: center middle; }
    #entry-box { width: 64; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    #entry-title { text-style: bold; color: $warning; }
    #entry-note { width: 100%; margin-bottom: 1; color: $text-muted; }
    .entry-row { height: 1; }
    .entry-row Label { width: 12; }
    .entry-row Input, .entry-row Select { width: 1fr; }
    #entry-error { width: 100%; height: auto; color: $error; margin-top: 1; }
    #entry-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    #entry-buttons Button { margin-left: 2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="entry-cancel"),
    ]

    def __init__(self, pairs: Sequence[str] = ()) -> None:
        """``pairs``: the configured pairs to choose from; empty: the pair is typed (the engine checks it)."""
        super().__init__()
        self.pairs = tuple(pairs)

    def compose(self) -> ComposeResult:
        with Vertical(id="entry-box"):
            yield Label("Manual entry", id="entry-title")
            yield Label(
                "The engine prices it, runs the risk gates on your margin or size (never raised, refused "
                "past a limit) and opens it with TP/SL resting. Leverage is the configured one.",
                id="entry-note",
            )
            with Horizontal(classes="entry-row"):
                yield Label("Pair")
                if self.pairs:
                    yield Select(
                        [(p, p) for p in self.pairs],
                        value=self.pairs[0],
                        allow_blank=False,
                        id="pair",
                        compact=True,
                    )
                else:
                    yield Input(placeholder="e.g. ETH", id="pair", compact=True)
            with Horizontal(classes="entry-row"):
                yield Label("Side")
                yield Select(
                    [("LONG", "LONG"), ("SHORT", "SHORT")],
                    value="LONG",
                    allow_blank=False,
                    id="side",
                    compact=True,
                )
            with Horizontal(classes="entry-row"):
                yield Label("Amount")
                yield Select(list(UNITS), value="margin", allow_blank=False, id="unit", compact=True)
                yield Input(placeholder="e.g. 25", id="amount", compact=True)
            with Horizontal(classes="entry-row"):
                yield Label("TP %")
                yield Input(placeholder="default", id="tp_pct", compact=True)
            with Horizontal(classes="entry-row"):
                yield Label("SL %")
                yield Input(placeholder="default", id="sl_pct", compact=True)
            yield Label("", id="entry-error")
            with Horizontal(id="entry-buttons"):
                yield Button("Send", variant="warning", id="send", compact=True)
                yield Button("Cancel (esc)", variant="primary", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#amount", Input).focus()

    def _value(self, name: str) -> str:
        widget = self.query_one(f"#{name}")
        if isinstance(widget, Select):
            return "" if widget.value is Select.BLANK else str(widget.value)
        assert isinstance(widget, Input)
        return widget.value.strip()

    def request(self) -> EntryRequest:
        """What the form says, checked; ``EntryArgsError`` names the wrong field."""
        unit = self._value("unit")
        args = {
            "pair": self._value("pair"),
            "side": self._value("side"),
            unit: self._value("amount"),
            "tp_pct": self._value("tp_pct"),
            "sl_pct": self._value("sl_pct"),
        }
        request = parse_entry(args)
        if self.pairs and request.pair not in self.pairs:
            raise EntryArgsError(f"pair: {request.pair} is not a configured pair; choose one of the list")
        return request

    def submit(self) -> None:
        try:
            request = self.request()
        except EntryArgsError as exc:
            self.query_one("#entry-error", Label).update(str(exc))
            return
        self.dismiss(request)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "send":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
