"""Keys that adjust what is open: move the stop-loss or take-profit of the selected position, close part
of it, clear a stop-loss cooldown. Each asks for one value, checks that it is a number, and queues a
command; the engine applies the risk limits and answers in a toast with its reason when it refuses.

Composed by the App beside ``OperatorActions``, whose debounce and sending they share; like those, they
reach the App only through ``ActionHost``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from smt_engine.commands.args import ClearCooldownArgs, CloseArgs, MoveProtectionArgs
from smt_engine.commands.errors import CommandRejected
from smt_engine.store.records import Position
from smt_tui import fmt
from smt_tui.adjust_rules import cooling
from smt_tui.operator_actions import ActionHost, OperatorActions
from smt_tui.screens.value_input import ValueInputModal


def _positive(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


class AdjustActions:
    """Ask for the one value each adjustment needs, check it, and send the command."""

    def __init__(self, host: ActionHost, sender: OperatorActions) -> None:
        self._host = host
        self._sender = sender

    def _position(self, action: str) -> Position | None:
        record = self._host.selected()
        if not isinstance(record, Position) or self._sender.debounced(action):
            return None
        return record

    def move_stop(self) -> None:
        self._move("move_stop", "sl_price", "stop-loss")

    def move_tp(self) -> None:
        self._move("move_tp", "tp_price", "take-profit")

    def _move(self, action: str, key: str, name: str) -> None:
        pos = self._position(action)
        if pos is None:
            return
        current = pos.sl_price if key == "sl_price" else pos.tp_price
        rule = (
            "Tightening is always allowed; the engine refuses a stop loosened past the phase's limit from "
            "the entry, or on the wrong side of the price, and says why."
            if key == "sl_price"
            else "It must be on the profitable side of the price."
        )
        body = (
            f"{pos.symbol} {pos.side.value}: entry {fmt.price(pos.entry_price)}, "
            f"stop {fmt.price(pos.sl_price)}, "
            f"take-profit {fmt.price(pos.tp_price)}. New {name} price? {rule} The new order is placed before "
            "the old one is cancelled."
        )

        def answered(text: str | None) -> None:
            if text is None:
                self._host.notify("cancelled: nothing was sent", timeout=3)
                return
            price = _positive(text)
            if price is None:
                self._host.notify(f"{text!r} is not a price: nothing was sent", severity="error")
                return
            args = MoveProtectionArgs.parse({"symbol": pos.symbol, "side": pos.side.value, key: str(price)})
            self._sender.send_command(args, f"move {pos.symbol} {name} to {price}")

        prefill = "" if current is None else str(current)
        self._host.push_screen(ValueInputModal(f"Move {name}", body, prefill, "price"), answered)

    def close_part(self) -> None:
        pos = self._position("close_part")
        if pos is None:
            return
        body = (
            f"{pos.symbol} {pos.side.value}, size {fmt.price(pos.size)}: close how much at market? A size "
            "(e.g. 0.05) or a share (50%). The rest stays open with its TP/SL resized; a part below the "
            "venue's minimum, or one leaving less than it, is refused."
        )

        def answered(text: str | None) -> None:
            if text is None:
                self._host.notify("cancelled: nothing was sent", timeout=3)
                return
            share = text.endswith("%")
            value = _positive(text.removesuffix("%").strip())
            if value is None or (share and value >= 100):
                self._host.notify(
                    f"{text!r} is not a size or a share below 100%: nothing was sent", severity="error"
                )
                return
            part = {"fraction": str(value / 100)} if share else {"size": str(value)}
            try:
                args = CloseArgs.parse({"symbol": pos.symbol, "side": pos.side.value, **part})
            except CommandRejected as exc:
                self._host.notify(f"{exc}: nothing was sent", severity="error")
                return
            self._sender.send_command(args, f"close {text} of {pos.symbol} {pos.side.value}")

        self._host.push_screen(
            ValueInputModal("Close part of a position", body, "50%", "size or %"), answered
        )

    def clear_cooldown(self) -> None:
        snap = self._host.snapshot
        if snap is None or self._sender.debounced("clear_cooldown"):
            return
        symbols = cooling(snap)
        record = self._host.selected()
        chosen = record.symbol if isinstance(record, Position) and record.symbol in symbols else symbols[0]
        body = (
            f"Stop-loss cooldowns in force: {', '.join(symbols)}. Clear which? New entries on it are allowed "
            "again at once; the clearance is recorded with your name."
        )

        def answered(text: str | None) -> None:
            if text is None:
                self._host.notify("cancelled: nothing was sent", timeout=3)
                return
            symbol = text.upper() if text.upper().endswith("USDT") else f"{text.upper()}USDT"
            if symbol not in symbols:
                self._host.notify(f"{symbol} has no cooldown in force: nothing was sent", severity="error")
                return
            self._sender.send_command(ClearCooldownArgs(symbol=symbol), f"clear {symbol} cooldown")

        self._host.push_screen(ValueInputModal("Clear a stop-loss cooldown", body, chosen, "pair"), answered)
