"""Operator actions that queue a command for the engine: approve, reject, close, close all, cancel
orphans, pause, resume, run a cycle and a manual entry (``screens.entry_form``); the confirmations that
state the risk first; and the toasts that tell what the engine did with each command.

Every command goes through the one client of the queue (``smt_engine.commands.client``), with the typed
arguments of its kind: the row is written from a worker thread and never when no engine runs (it would
wait for an engine that may start hours later); the engine's typed result is shown when it completes.
The worker reads only plain values and posts messages; it never touches a widget.

The App composes these actions and delegates its ``action_*`` methods here; they reach the App only
through ``ActionHost``, so they sit below it (docs/design.md, "Packages and their direction").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Protocol, TypeVar

from textual.message import Message
from textual.screen import Screen

from smt_engine.commands.args import (
    ApproveArgs,
    CleanupArgs,
    CloseAllArgs,
    CloseArgs,
    CommandArgs,
    EnterArgs,
    PauseArgs,
    RejectArgs,
    ResumeArgs,
    RunCycleArgs,
)
from smt_engine.commands.client import CommandClient, read_outcome
from smt_engine.commands.errors import CommandRejected, NoEngine
from smt_engine.domain import Mode, PositionState
from smt_engine.store.entry_args import EntryRequest
from smt_engine.store.records import Command, Position
from smt_tui import fmt
from smt_tui.announce import AnnounceHost
from smt_tui.messages import CommandNotSent, CommandSent
from smt_tui.screens.confirm import ConfirmModal
from smt_tui.screens.entry_form import EntryForm
from smt_tui.state import ConsoleConfig, Liveness, Now, ProposalView, ReadModel, Snapshot

_Answer = TypeVar("_Answer")


class ActionHost(AnnounceHost, Protocol):
    """What the operator actions need of the console: what is selected in the latest snapshot, where
    the operator is, and Textual's screens, toasts (``AnnounceHost``), workers and messages."""

    @property
    def snapshot(self) -> Snapshot | None: ...

    @property
    def readonly(self) -> bool: ...

    @property
    def model(self) -> ReadModel: ...

    @property
    def config(self) -> ConsoleConfig: ...

    @property
    def now(self) -> Now: ...

    @property
    def actor(self) -> str: ...

    @property
    def debounce(self) -> float: ...

    @property
    def screen(self) -> Screen[object]: ...

    def selected(self) -> object | None: ...

    def selected_key(self) -> str | None: ...

    def keep_cursor(self) -> None:
        """The operator decided the selected row: the console must not move the cursor off it."""

    def push_screen(self, screen: Screen[_Answer], callback: Callable[[_Answer | None], None]) -> object: ...

    def run_worker(
        self,
        work: Callable[[], None],
        name: str | None = "",
        group: str = "default",
        description: str = "",
        exit_on_error: bool = True,
        *,
        thread: bool = False,
    ) -> object: ...

    def post_message(self, message: Message) -> bool: ...


class OperatorActions:
    """The actions that write a command row, their confirmations, and the toasts of what came of them."""

    def __init__(self, host: ActionHost) -> None:
        self._host = host
        self._labels: dict[int, str] = {}
        """What the operator asked for, by command id: the engine's answer is told in the same words."""
        self._last_trigger: dict[str, float] = {}

    @property
    def command_client(self) -> CommandClient:
        """The queue's one client, as this console's operator (the same policy as the CLI's)."""
        model = self._host.model
        return CommandClient(model.store, model.engine_running, model.now, self._host.actor)

    def debounced(self, action: str) -> bool:
        """True when the same action fired a moment ago (key repeat, double press)."""
        now = time.monotonic()
        last = self._last_trigger.get(action)
        self._last_trigger[action] = now
        return last is not None and now - last < self._host.debounce

    def approve(self) -> None:
        self._proposal_command("approve")

    def reject(self) -> None:
        self._proposal_command("reject")

    def _proposal_command(self, verb: str) -> None:
        host = self._host
        record = host.selected()
        if not isinstance(record, ProposalView) or self.debounced(verb):
            return
        proposal_id = record.proposal.id
        # The operator decided this row: the cursor stays on it (a second press must never land on
        # another proposal the console moved to).
        host.keep_cursor()

        def send() -> None:
            args = (
                ApproveArgs(proposal_id=proposal_id)
                if verb == "approve"
                else RejectArgs(proposal_id=proposal_id)
            )
            self.send_command(args, f"{verb} proposal #{proposal_id}")

        snap = host.snapshot
        live = snap is not None and snap.engine.mode is Mode.LIVE
        if verb == "approve" and live and host.config.confirm_live_approvals:
            self._confirm("Approve with real money?", approval_risk(record, snap), send)
        else:
            send()

    def close_position(self) -> None:
        host = self._host
        record = host.selected()
        key = host.selected_key()
        if not isinstance(record, Position) or key is None or self.debounced("close_position"):
            return
        label = f"close {record.symbol} {record.side.value}"

        def body() -> str:
            # Read when drawn and on every snapshot while the question is open: "now" is the latest PnL.
            latest = host.snapshot.find(key) if host.snapshot is not None else None
            pos = latest if isinstance(latest, Position) else record
            if pos.state is PositionState.CLOSED:
                return f"{pos.symbol} {pos.side.value} is closed already: nothing to close."
            return (
                f"Close {pos.symbol} {pos.side.value} (size {fmt.price(pos.size)}) at market? "
                f"Its unrealised PnL, {pos.unrealized_pnl:+,.2f} USDT now, becomes realised; "
                "its TP/SL orders are cancelled first."
            )

        self._confirm(
            "Close position?",
            body,
            lambda: self.send_command(CloseArgs(symbol=record.symbol, side=record.side), label),
        )

    def refresh_confirm(self) -> None:
        """A confirmation on screen states the latest figures (called for every snapshot and tick)."""
        screen = self._host.screen
        if isinstance(screen, ConfirmModal):
            screen.refresh_body()

    def close_all(self) -> None:
        snap = self._host.snapshot
        if snap is None or self.debounced("close_all"):
            return
        count = len(snap.open_positions)
        self._confirm(
            "Close ALL positions?",
            f"Close all {count} open position(s) at market?",
            lambda: self.send_command(CloseAllArgs(), f"close all ({count})"),
        )

    def cleanup(self) -> None:
        snap = self._host.snapshot
        if snap is None or self.debounced("cleanup"):
            return
        orphans = snap.orphans
        if orphans:
            listed = ", ".join(
                f"{o.symbol} {o.kind.value} @ {fmt.price(o.trigger_price or o.price)}" for o in orphans[:4]
            )
            body = f"Cancel {len(orphans)} orphan order(s) left on the exchange ({listed})?"
        else:
            body = (
                "No orphan order is flagged. Ask the engine to check the exchange anyway? It cancels only "
                "TP/SL orders that belong to no open position, and reports what it found."
            )
        count = len(orphans)
        self._confirm(
            "Clean up orphan orders?",
            body,
            lambda: self.send_command(CleanupArgs(), f"clean up ({count} orphan(s) flagged)"),
        )

    def pause(self) -> None:
        if not self.debounced("pause"):
            self.send_command(PauseArgs(), "pause entries")

    def resume(self) -> None:
        if not self.debounced("resume"):
            self.send_command(ResumeArgs(), "resume entries")

    def run_cycle(self) -> None:
        if not self.debounced("run_cycle"):
            self.send_command(RunCycleArgs(), "run cycle now")

    def manual_entry(self) -> None:
        if not self.debounced("manual_entry"):
            self._host.push_screen(EntryForm(self._host.config.entry_pairs), self._entry_filled)

    def _entry_filled(self, request: EntryRequest | None) -> None:
        host = self._host
        if request is None:
            host.notify("cancelled: nothing was sent", timeout=3)
            return
        label = f"enter {request.describe()}"

        def send() -> None:
            self.send_command(EnterArgs.of(request), label)

        snap = host.snapshot
        if snap is not None and snap.engine.mode is Mode.LIVE and host.config.confirm_live_approvals:
            body = (
                f"Open {request.describe()} with real money? The engine reads the live price, runs the "
                "risk gates and sends the order with TP/SL at the configured leverage."
            )
            self._confirm("Enter with real money?", body, send)
        else:
            send()

    def _confirm(self, title: str, body: str | Callable[[], str], then: Callable[[], None]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                then()
            else:
                self._host.notify("cancelled: nothing was sent", timeout=3)

        self._host.push_screen(ConfirmModal(title, body), answered)

    # ------------------------------------------------------------------ commands

    def send_command(self, args: CommandArgs, label: str) -> None:
        if self._host.readonly:
            self._host.notify("read-only console: actions are unavailable", severity="warning")
            return
        self._host.run_worker(
            partial(self._send, args, label),
            "send_command",
            "commands",
            "operator command",
            exit_on_error=False,
            thread=True,
        )

    def _send(self, args: CommandArgs, label: str) -> None:
        """In a worker thread: write the row, then tell the UI thread by a message."""
        host = self._host
        try:
            command = self.command_client.send(args)
        except NoEngine as exc:
            # Never leave a command queued for an engine that may start hours later.
            host.post_message(CommandNotSent(label, str(exc)))
            return
        except CommandRejected as exc:
            host.post_message(CommandNotSent(label, str(exc)))
            return
        except Exception as exc:  # the database refused: show it, keep the console alive
            host.post_message(CommandNotSent(label, f"could not write the command: {exc}"))
            return
        assert command.id is not None
        host.model.watch_command(command.id)
        snap = host.snapshot
        alive = snap is not None and snap.engine.liveness(host.now(), host.config.stale_after) in (
            Liveness.ALIVE,
            Liveness.STARTING,
        )
        host.post_message(CommandSent(command, label, alive))

    def sent(self, message: CommandSent) -> None:
        assert message.command.id is not None
        self._labels[message.command.id] = message.label
        if message.engine_alive:
            self._host.notify(f"{message.label}: sent (command #{message.command.id})", timeout=3)
        else:
            self._host.notify(
                f"{message.label}: queued as #{message.command.id}, but the engine heartbeat is stale",
                severity="warning",
            )

    def not_sent(self, message: CommandNotSent) -> None:
        self._host.notify(f"{message.label}: {message.reason}", severity="error", title="Not sent")

    def report(self, command: Command) -> None:
        """The engine's answer, read through the contract: what it did, or why not."""
        outcome = read_outcome(command)
        if outcome is None:
            return
        assert command.id is not None
        label = self._labels.pop(command.id, f"{command.kind.value} #{command.id}")
        self._host.notify(
            f"{label}: {outcome.says()}", severity="information" if outcome.done else "error", title="Engine"
        )


def approval_risk(view: ProposalView, snap: Snapshot | None) -> str:
    """What an approval puts at risk, in plain words, for the confirmation in live mode."""
    p = view.proposal
    at_stop = p.notional * p.sl_pct / 100
    drift = snap.drift(p.id) if snap is not None else None
    moved = (
        f" The price has moved {drift.used:.2f}% since it was proposed (limit {drift.value}%)."
        if drift is not None and drift.used is not None
        else ""
    )
    return (
        f"#{p.id} {p.pair} {p.side.value}: margin {fmt.money(p.margin)} USDT, notional "
        f"{fmt.money(p.notional)} USDT at {p.leverage}x. At the stop-loss ({fmt.price(p.sl_price)}, "
        f"-{p.sl_pct}%) it loses about {fmt.money(at_stop)} USDT before fees.{moved} The engine re-checks "
        "the price and every risk gate before it sends the order."
    )
